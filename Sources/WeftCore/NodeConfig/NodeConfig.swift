/// What a node does with connections to destinations that are not mesh services.
public enum EgressPolicy: String, Sendable, Codable, CaseIterable {
    /// Relay them unchanged (unmeshed).
    case passthrough
    /// Reset them.
    case refuse
}

/// The versioned per-node config: everything a node needs to capture, resolve and route.
///
/// The control plane compiles one per node and pushes it; the node also keeps its last good one on disk and can
/// start from a file (a static mesh, and the lab tests).
public struct NodeConfig: Sendable, Codable, Equatable {
    public var version: UInt64
    /// The node this config is for.
    public var node: String
    /// How plaintext connections to local service ports from outside the mesh are treated.
    public var meshMode: MeshMode
    public var egress: EgressPolicy
    /// Ranges service VIPs come from; traffic to them is captured.
    public var vipRanges: [IPCIDR]
    public var services: [MeshService]

    public init(
        version: UInt64, node: String, meshMode: MeshMode = .strict, egress: EgressPolicy = .passthrough,
        vipRanges: [IPCIDR] = [NodeConfig.defaultVIPRange], services: [MeshService] = []
    ) {
        self.version = version
        self.node = node
        self.meshMode = meshMode
        self.egress = egress
        self.vipRanges = vipRanges
        self.services = services
    }

    public static let defaultVIPRange = IPCIDR(network: .v4(0xF000_0000), prefixLength: 4)

    enum CodingKeys: String, CodingKey {
        case version, node, egress, services
        case meshMode = "mesh_mode"
        case vipRanges = "vip_ranges"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(UInt64.self, forKey: .version)
        node = try c.decode(String.self, forKey: .node)
        meshMode = try c.decodeIfPresent(MeshMode.self, forKey: .meshMode) ?? .strict
        egress = try c.decodeIfPresent(EgressPolicy.self, forKey: .egress) ?? .passthrough
        vipRanges = try c.decodeIfPresent([IPCIDR].self, forKey: .vipRanges) ?? [Self.defaultVIPRange]
        services = try c.decodeIfPresent([MeshService].self, forKey: .services) ?? []
    }

    public enum ValidationError: Error, Equatable, CustomStringConvertible {
        case invalidName(field: String, reason: String)
        case duplicateService(String)
        case duplicateVIP(IPAddress)
        case vipOutsideRanges(service: String, vip: IPAddress)
        case invalidPort(field: String)

        public var description: String {
            switch self {
            case .invalidName(let field, let reason): return "\(field): \(reason)"
            case .duplicateService(let name): return "services: '\(name)' is listed twice"
            case .duplicateVIP(let vip): return "services: VIP \(vip) is given to two services"
            case .vipOutsideRanges(let service, let vip):
                return "services.\(service).vip: \(vip) is outside vip_ranges"
            case .invalidPort(let field): return "\(field): ports must be 1-65535"
            }
        }
    }

    /// Checks names, ports and VIPs; a node refuses (NACKs) a config that fails.
    public func validate() throws(ValidationError) {
        do { try DNSLabel.validate(node) } catch { throw .invalidName(field: "node", reason: error.description) }
        var names = Set<String>()
        var vips = Set<IPAddress>()
        for service in services {
            do { try DNSLabel.validate(service.name) } catch {
                throw .invalidName(field: "services.name", reason: error.description)
            }
            do { try DNSLabel.validate(service.namespace) } catch {
                throw .invalidName(field: "services.\(service.name).namespace", reason: error.description)
            }
            guard names.insert(service.qualifiedName).inserted else { throw .duplicateService(service.qualifiedName) }
            if service.ports.contains(0) { throw .invalidPort(field: "services.\(service.name).ports") }
            for endpoint in service.endpoints where endpoint.port == 0 {
                throw .invalidPort(field: "services.\(service.name).endpoints")
            }
            if let vip = service.vip {
                guard vips.insert(vip).inserted else { throw .duplicateVIP(vip) }
                guard vipRanges.contains(where: { $0.contains(vip) }) else {
                    throw .vipOutsideRanges(service: service.name, vip: vip)
                }
            }
        }
    }
}

/// A service as one node sees it: where to reach it and how.
public struct MeshService: Sendable, Codable, Equatable {
    public var name: String
    public var namespace: String
    public var `protocol`: ServiceProtocol
    /// The ports clients use (on the VIP).
    public var ports: [UInt16]
    public var vip: IPAddress?
    public var endpoints: [ServiceEndpoint]
    /// Overrides the node's mesh mode for this service's ports.
    public var meshMode: MeshMode?

    public init(
        name: String, namespace: String = "default", protocol: ServiceProtocol = .tcp, ports: [UInt16],
        vip: IPAddress?, endpoints: [ServiceEndpoint], meshMode: MeshMode? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.protocol = `protocol`
        self.ports = ports
        self.vip = vip
        self.endpoints = endpoints
        self.meshMode = meshMode
    }

    /// `namespace/name`.
    public var qualifiedName: String { "\(namespace)/\(name)" }

    public var serviceName: ServiceName { ServiceName(namespace: namespace, name: name) }

    enum CodingKeys: String, CodingKey {
        case name, namespace, `protocol`, ports, vip, endpoints
        case meshMode = "mesh_mode"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        namespace = try c.decodeIfPresent(String.self, forKey: .namespace) ?? "default"
        `protocol` = try c.decodeIfPresent(ServiceProtocol.self, forKey: .protocol) ?? .tcp
        ports = try c.decodeIfPresent([UInt16].self, forKey: .ports) ?? []
        vip = try c.decodeIfPresent(IPAddress.self, forKey: .vip)
        endpoints = try c.decodeIfPresent([ServiceEndpoint].self, forKey: .endpoints) ?? []
        meshMode = try c.decodeIfPresent(MeshMode.self, forKey: .meshMode)
    }
}

/// One instance of a service: a workload's address and port on some node.
public struct ServiceEndpoint: Sendable, Codable, Equatable, Hashable {
    public var address: IPAddress
    public var port: UInt16
    /// The node the workload runs on.
    public var node: String
    public var healthy: Bool

    public init(address: IPAddress, port: UInt16, node: String, healthy: Bool = true) {
        self.address = address
        self.port = port
        self.node = node
        self.healthy = healthy
    }

    public var socketAddress: IPSocketAddress { IPSocketAddress(address: address, port: port) }

    enum CodingKeys: String, CodingKey {
        case address, port, node, healthy
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        address = try c.decode(IPAddress.self, forKey: .address)
        port = try c.decode(UInt16.self, forKey: .port)
        node = try c.decode(String.self, forKey: .node)
        healthy = try c.decodeIfPresent(Bool.self, forKey: .healthy) ?? true
    }
}
