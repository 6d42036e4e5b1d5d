/// GET /v1/status: the mesh at a glance.
public struct AdminStatus: Sendable, Equatable, Codable {
    public struct Counts: Sendable, Equatable, Codable {
        public var nodes: Int
        public var nodesUp: Int
        public var services: Int
        public var intentions: Int
        public var joinTokensValid: Int
        public var adminTokens: Int

        public init(nodes: Int, nodesUp: Int, services: Int, intentions: Int, joinTokensValid: Int, adminTokens: Int) {
            self.nodes = nodes
            self.nodesUp = nodesUp
            self.services = services
            self.intentions = intentions
            self.joinTokensValid = joinTokensValid
            self.adminTokens = adminTokens
        }

        enum CodingKeys: String, CodingKey {
            case nodes, services, intentions
            case nodesUp = "nodes_up"
            case joinTokensValid = "join_tokens_valid"
            case adminTokens = "admin_tokens"
        }
    }

    public var revision: Int64
    public var trustDomain: String
    public var version: String
    /// SHA-256 of the trust bundle's root, hex: what join tokens carry.
    public var caFingerprint: String
    public var counts: Counts
    public var defaultAction: IntentionAction
    public var stopAll: Bool
    public var meshMode: MeshMode
    public var egress: EgressPolicy
    public var nodeStreams: [NodeStreamStatus]
    /// Stored records left out of config because they cannot be decoded, by kind and name.
    public var undecodableRecords: [UndecodableRecord]

    public init(
        revision: Int64, trustDomain: String, version: String, caFingerprint: String, counts: Counts,
        defaultAction: IntentionAction, stopAll: Bool, meshMode: MeshMode, egress: EgressPolicy,
        nodeStreams: [NodeStreamStatus], undecodableRecords: [UndecodableRecord] = []
    ) {
        self.revision = revision
        self.trustDomain = trustDomain
        self.version = version
        self.caFingerprint = caFingerprint
        self.counts = counts
        self.defaultAction = defaultAction
        self.stopAll = stopAll
        self.meshMode = meshMode
        self.egress = egress
        self.nodeStreams = nodeStreams
        self.undecodableRecords = undecodableRecords
    }

    enum CodingKeys: String, CodingKey {
        case revision, version, counts, egress
        case trustDomain = "trust_domain"
        case caFingerprint = "ca_fingerprint"
        case defaultAction = "default_action"
        case stopAll = "stop_all"
        case meshMode = "mesh_mode"
        case nodeStreams = "node_streams"
        case undecodableRecords = "undecodable_records"
    }
}
