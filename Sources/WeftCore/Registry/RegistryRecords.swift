#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A node as the control plane knows it.
public struct NodeRecord: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        case up
        /// Not seen for longer than the control plane's node timeout; its endpoints are withdrawn.
        case down
    }

    public var name: String
    /// Fixed at join (from the token, or what the node declared there, which had to include the address it joined
    /// from) or by an admin; the node's endpoints must be at these.
    public var addresses: [IPAddress]
    /// The weft-node version it reported.
    public var version: String
    public var status: Status
    /// The node's egress policy; nil follows the mesh setting.
    public var egress: EgressPolicy?
    /// The serial of the node certificate issued at join.
    public var certificateSerial: String?
    public var joinedAt: Date
    /// Services this node runs only clients of (registered without endpoints): it may obtain their certificates
    /// as long as no other node has endpoints of them.
    public var clientWorkloads: [ServiceName]?
    /// What the node's last registration claimed and the control plane refused.
    public var refusedClaims: [RefusedClaim]?

    public init(
        name: String, addresses: [IPAddress] = [], version: String = "", status: Status = .up,
        egress: EgressPolicy? = nil, certificateSerial: String? = nil, joinedAt: Date
    ) {
        self.name = name
        self.addresses = addresses
        self.version = version
        self.status = status
        self.egress = egress
        self.certificateSerial = certificateSerial
        self.joinedAt = joinedAt
    }

    enum CodingKeys: String, CodingKey {
        case name, addresses, version, status, egress
        case certificateSerial = "certificate_serial"
        case joinedAt = "joined_at"
        case clientWorkloads = "client_workloads"
        case refusedClaims = "refused_claims"
    }
}

/// A service in the registry.
public struct ServiceRecord: Sendable, Equatable, Codable {
    public enum Origin: String, Sendable, Codable {
        /// Registered by a node that found it listening.
        case discovered
        /// Defined by an admin.
        case admin
        /// A name for addresses outside the mesh (migrations); no endpoints on nodes.
        case external
    }

    public var name: ServiceName
    public var `protocol`: ServiceProtocol
    public var ports: [UInt16]
    public var labels: [String: String]
    public var vip: IPAddress?
    public var origin: Origin
    /// Where an external service lives.
    public var externalAddresses: [IPSocketAddress]
    /// Overrides the mesh mode for this service's ports.
    public var meshMode: MeshMode?
    /// The nodes that may serve this service or call as it: the first node that registered it, and those an admin
    /// allowed (`weftctl service allow-node`). Nil until a node first registers it.
    public var placement: [String]?

    public init(
        name: ServiceName, protocol: ServiceProtocol = .tcp, ports: [UInt16] = [], labels: [String: String] = [:],
        vip: IPAddress? = nil, origin: Origin, externalAddresses: [IPSocketAddress] = [], meshMode: MeshMode? = nil
    ) {
        self.name = name
        self.protocol = `protocol`
        self.ports = ports
        self.labels = labels
        self.vip = vip
        self.origin = origin
        self.externalAddresses = externalAddresses
        self.meshMode = meshMode
    }

    enum CodingKeys: String, CodingKey {
        case name, `protocol`, ports, labels, vip, origin
        case externalAddresses = "external_addresses"
        case meshMode = "mesh_mode"
        case placement = "nodes"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(ServiceName.self, forKey: .name)
        placement = try c.decodeIfPresent([String].self, forKey: .placement)
        `protocol` = try c.decodeIfPresent(ServiceProtocol.self, forKey: .protocol) ?? .tcp
        ports = try c.decodeIfPresent([UInt16].self, forKey: .ports) ?? []
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        vip = try c.decodeIfPresent(IPAddress.self, forKey: .vip)
        origin = try c.decodeIfPresent(Origin.self, forKey: .origin) ?? .admin
        externalAddresses = try c.decodeIfPresent([IPSocketAddress].self, forKey: .externalAddresses) ?? []
        meshMode = try c.decodeIfPresent(MeshMode.self, forKey: .meshMode)
    }
}

/// One instance of a service on a node.
public struct EndpointRecord: Sendable, Equatable, Hashable, Codable {
    public var service: ServiceName
    public var node: String
    public var address: IPAddress
    public var port: UInt16
    public var labels: [String: String]
    public var healthy: Bool

    public init(
        service: ServiceName, node: String, address: IPAddress, port: UInt16, labels: [String: String] = [:],
        healthy: Bool = true
    ) {
        self.service = service
        self.node = node
        self.address = address
        self.port = port
        self.labels = labels
        self.healthy = healthy
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        service = try c.decode(ServiceName.self, forKey: .service)
        node = try c.decode(String.self, forKey: .node)
        address = try c.decode(IPAddress.self, forKey: .address)
        port = try c.decode(UInt16.self, forKey: .port)
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        healthy = try c.decodeIfPresent(Bool.self, forKey: .healthy) ?? true
    }
}

/// Mesh-wide settings an admin changes at run time.
public struct MeshSettings: Sendable, Equatable, Codable {
    public var defaultAction: IntentionAction
    public var stopAll: Bool
    public var meshMode: MeshMode
    public var egress: EgressPolicy
    public var telemetry: TelemetrySettings

    public init(
        defaultAction: IntentionAction = .allow, stopAll: Bool = false, meshMode: MeshMode = .strict,
        egress: EgressPolicy = .passthrough, telemetry: TelemetrySettings = TelemetrySettings()
    ) {
        self.defaultAction = defaultAction
        self.stopAll = stopAll
        self.meshMode = meshMode
        self.egress = egress
        self.telemetry = telemetry
    }

    enum CodingKeys: String, CodingKey {
        case defaultAction = "default_action"
        case stopAll = "stop_all"
        case meshMode = "mesh_mode"
        case egress, telemetry
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = MeshSettings()
        defaultAction = try c.decodeIfPresent(IntentionAction.self, forKey: .defaultAction) ?? defaults.defaultAction
        stopAll = try c.decodeIfPresent(Bool.self, forKey: .stopAll) ?? defaults.stopAll
        meshMode = try c.decodeIfPresent(MeshMode.self, forKey: .meshMode) ?? defaults.meshMode
        egress = try c.decodeIfPresent(EgressPolicy.self, forKey: .egress) ?? defaults.egress
        telemetry = try c.decodeIfPresent(TelemetrySettings.self, forKey: .telemetry) ?? defaults.telemetry
    }
}

/// Where nodes send metrics and traces, switched at run time.
public struct TelemetrySettings: Sendable, Equatable, Codable {
    public enum MetricsPush: String, Sendable, Codable, CaseIterable {
        case none
        case prometheusRemoteWrite = "prometheus-remote-write"
        case otlpHTTP = "otlp-http"
        case statsd
    }

    public var metricsPush: MetricsPush
    /// Where metrics are pushed (URL, or host:port for StatsD).
    public var metricsEndpoint: String?
    /// Seconds between pushes.
    public var pushInterval: Int
    /// OTLP/HTTP traces endpoint; nil switches tracing off.
    public var tracesEndpoint: String?
    /// Fraction of requests traced, 0...1.
    public var traceSampling: Double
    public var accessLog: Bool

    public init(
        metricsPush: MetricsPush = .none, metricsEndpoint: String? = nil, pushInterval: Int = 5,
        tracesEndpoint: String? = nil, traceSampling: Double = 0.01, accessLog: Bool = true
    ) {
        self.metricsPush = metricsPush
        self.metricsEndpoint = metricsEndpoint
        self.pushInterval = pushInterval
        self.tracesEndpoint = tracesEndpoint
        self.traceSampling = traceSampling
        self.accessLog = accessLog
    }

    enum CodingKeys: String, CodingKey {
        case metricsPush = "metrics_push"
        case metricsEndpoint = "metrics_endpoint"
        case pushInterval = "push_interval"
        case tracesEndpoint = "traces_endpoint"
        case traceSampling = "trace_sampling"
        case accessLog = "access_log"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = TelemetrySettings()
        metricsPush = try c.decodeIfPresent(MetricsPush.self, forKey: .metricsPush) ?? defaults.metricsPush
        metricsEndpoint = try c.decodeIfPresent(String.self, forKey: .metricsEndpoint)
        pushInterval = try c.decodeIfPresent(Int.self, forKey: .pushInterval) ?? defaults.pushInterval
        tracesEndpoint = try c.decodeIfPresent(String.self, forKey: .tracesEndpoint)
        traceSampling = try c.decodeIfPresent(Double.self, forKey: .traceSampling) ?? defaults.traceSampling
        accessLog = try c.decodeIfPresent(Bool.self, forKey: .accessLog) ?? defaults.accessLog
    }
}
