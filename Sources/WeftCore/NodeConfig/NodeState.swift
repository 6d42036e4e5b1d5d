/// The lookups the node and its proxy make, built once from a `NodeConfig` and then only read.
public struct NodeState: Sendable {
    public let config: NodeConfig
    private let servicesByVIP: [IPAddress: Int]
    private let servicesByEndpoint: [IPSocketAddress: Int]
    /// Services with at least one endpoint on this node.
    public let localServices: [MeshService]
    private let localServicesByName: [String: MeshService]

    public init(config: NodeConfig) {
        self.config = config
        var byVIP: [IPAddress: Int] = [:]
        var byEndpoint: [IPSocketAddress: Int] = [:]
        for (index, service) in config.services.enumerated() {
            if let vip = service.vip { byVIP[vip] = index }
            for endpoint in service.endpoints { byEndpoint[endpoint.socketAddress] = index }
        }
        servicesByVIP = byVIP
        servicesByEndpoint = byEndpoint
        localServices = config.services.filter { $0.endpoints.contains { $0.node == config.node } }
        localServicesByName = Dictionary(localServices.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The local service of that name (the name the capture found for a client process's unit).
    public func localService(named name: String) -> MeshService? {
        localServicesByName[name]
    }

    public var nodeName: String { config.node }

    public func service(atVIP address: IPAddress) -> MeshService? {
        servicesByVIP[address].map { config.services[$0] }
    }

    /// The service one of whose endpoints is `address` (a client that dialled a workload directly).
    public func service(atEndpoint address: IPSocketAddress) -> MeshService? {
        servicesByEndpoint[address].map { config.services[$0] }
    }

    /// The service with an endpoint at `address` on this node: what an inbound tunnel may ask for.
    public func localService(atEndpoint address: IPSocketAddress) -> MeshService? {
        guard let service = service(atEndpoint: address),
            service.endpoints.contains(where: { $0.socketAddress == address && $0.node == config.node })
        else { return nil }
        return service
    }

    public func isVIP(_ address: IPAddress) -> Bool {
        config.vipRanges.contains { $0.contains(address) }
    }

    /// Ports of this node's local endpoints, with the service each belongs to.
    public var localEndpointPorts: [UInt16: MeshService] {
        var ports: [UInt16: MeshService] = [:]
        for service in localServices {
            for endpoint in service.endpoints where endpoint.node == config.node {
                ports[endpoint.port] = service
            }
        }
        return ports
    }

    /// Every endpoint of the mesh, to capture when dialled directly (not through its service's VIP).
    public var meshEndpoints: [IPSocketAddress] {
        servicesByEndpoint.keys.sorted { ($0.address, $0.port) < ($1.address, $1.port) }
    }

    /// Mesh DNS names, relative to the mesh domain, of every service with a VIP: `<name>.<namespace>`, and
    /// `<name>` for the default namespace.
    public var meshNames: [String: [IPAddress]] {
        var names: [String: [IPAddress]] = [:]
        for service in config.services {
            guard let vip = service.vip else { continue }
            names["\(service.name).\(service.namespace)", default: []].append(vip)
            if service.namespace == "default" {
                names[service.name, default: []].append(vip)
            }
        }
        return names
    }

    /// Local service ports that take plaintext from other hosts, with the mode that applies to each.
    public var inboundPorts: [UInt16: (mode: MeshMode, service: ServiceName)] {
        localEndpointPorts.mapValues { ($0.meshMode ?? config.meshMode, $0.serviceName) }
    }
}
