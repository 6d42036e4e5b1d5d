#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One piece of a node's config as the control plane pushes it: a named JSON document and a version that changes
/// exactly when the document does. A node's config is the set of its resources.
public struct ConfigResource: Sendable, Equatable {
    public var name: String
    public var version: String
    public var payload: Data

    public init(name: String, payload: Data) {
        self.name = name
        self.payload = payload
        self.version = Self.version(of: payload)
    }

    /// 64-bit FNV-1a of the payload, hex: change detection, not security (the stream is mTLS).
    public static func version(of payload: Data) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in payload {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Encodes with sorted keys, so equal values give equal versions.
    public static func make(name: String, _ value: some Encodable) throws -> ConfigResource {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return ConfigResource(name: name, payload: try encoder.encode(value))
    }

    public static let meshName = "mesh"
    public static let trustBundleName = "trust-bundle"
    public static let servicePrefix = "service/"
    public static let intentionPrefix = "intention/"

    public static func serviceName(_ service: ServiceName) -> String {
        "\(servicePrefix)\(service.namespace)/\(service.name)"
    }

    public static func intentionName(_ intention: Intention) -> String { "\(intentionPrefix)\(intention.key)" }
}

/// The `mesh` resource: node-wide settings.
public struct MeshResource: Sendable, Equatable, Codable {
    public var node: String
    public var trustDomain: String
    public var meshMode: MeshMode
    public var egress: EgressPolicy
    public var defaultAction: IntentionAction
    public var stopAll: Bool
    public var vipRanges: [IPCIDR]
    public var telemetry: TelemetrySettings

    public init(
        node: String, trustDomain: String, meshMode: MeshMode, egress: EgressPolicy, defaultAction: IntentionAction,
        stopAll: Bool, vipRanges: [IPCIDR], telemetry: TelemetrySettings
    ) {
        self.node = node
        self.trustDomain = trustDomain
        self.meshMode = meshMode
        self.egress = egress
        self.defaultAction = defaultAction
        self.stopAll = stopAll
        self.vipRanges = vipRanges
        self.telemetry = telemetry
    }

    enum CodingKeys: String, CodingKey {
        case node, egress, telemetry
        case trustDomain = "trust_domain"
        case meshMode = "mesh_mode"
        case defaultAction = "default_action"
        case stopAll = "stop_all"
        case vipRanges = "vip_ranges"
    }
}

/// The `trust-bundle` resource: the roots every peer must chain to, and the serial numbers (hex) of revoked
/// certificates no peer may present until they expire (absent from control planes that send none).
public struct TrustBundleResource: Sendable, Equatable, Codable {
    public var pem: String
    public var revokedSerials: [String]?

    public init(pem: String, revokedSerials: [String]? = nil) {
        self.pem = pem
        self.revokedSerials = revokedSerials
    }

    enum CodingKeys: String, CodingKey {
        case pem
        case revokedSerials = "revoked_serials"
    }
}

/// A node's config put together from its resources: what the proxy, capture and DNS read.
public struct CompiledNodeConfig: Sendable, Equatable {
    public var version: UInt64
    public var nodeConfig: NodeConfig
    public var policy: AuthorizationPolicy
    public var telemetry: TelemetrySettings
    public var trustDomain: String
    public var trustBundlePEM: String
    /// Serial numbers of revoked certificates (empty from a control plane that sends none).
    public var revokedSerials: Set<String>

    public enum AssemblyError: Error, Equatable, CustomStringConvertible {
        case missing(String)
        case undecodable(resource: String, reason: String)
        case unknown(String)
        case invalid(String)

        public var description: String {
            switch self {
            case .missing(let name): return "the config has no '\(name)' resource"
            case .undecodable(let name, let reason): return "resource '\(name)' is not valid: \(reason)"
            case .unknown(let name): return "resource '\(name)' is of a kind this node does not know"
            case .invalid(let reason): return reason
            }
        }
    }

    /// Decodes and checks a full set of resources; a node NACKs a version that fails.
    public init(version: UInt64, resources: [String: ConfigResource]) throws(AssemblyError) {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        func decode<T: Decodable>(_ type: T.Type, _ resource: ConfigResource) throws(AssemblyError) -> T {
            do { return try decoder.decode(type, from: resource.payload) } catch {
                throw .undecodable(resource: resource.name, reason: "\(error)")
            }
        }
        guard let meshResource = resources[ConfigResource.meshName] else { throw .missing(ConfigResource.meshName) }
        guard let bundleResource = resources[ConfigResource.trustBundleName] else {
            throw .missing(ConfigResource.trustBundleName)
        }
        let mesh = try decode(MeshResource.self, meshResource)
        let bundle = try decode(TrustBundleResource.self, bundleResource)
        var services: [MeshService] = []
        var intentions: [Intention] = []
        for name in resources.keys.sorted() {
            guard let resource = resources[name] else { continue }
            if name.hasPrefix(ConfigResource.servicePrefix) {
                services.append(try decode(MeshService.self, resource))
            } else if name.hasPrefix(ConfigResource.intentionPrefix) {
                intentions.append(try decode(Intention.self, resource))
            } else if name != ConfigResource.meshName && name != ConfigResource.trustBundleName {
                throw .unknown(name)
            }
        }
        let config = NodeConfig(
            version: version, node: mesh.node, meshMode: mesh.meshMode, egress: mesh.egress, vipRanges: mesh.vipRanges,
            services: services
        )
        do { try config.validate() } catch { throw .invalid(error.description) }
        self.version = version
        self.nodeConfig = config
        self.policy = AuthorizationPolicy(
            intentions: intentions, defaultAction: mesh.defaultAction, stopAll: mesh.stopAll)
        self.telemetry = mesh.telemetry
        self.trustDomain = mesh.trustDomain
        self.trustBundlePEM = bundle.pem
        self.revokedSerials = Set(bundle.revokedSerials ?? [])
    }
}
