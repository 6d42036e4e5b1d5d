import Foundation
import WeftCore

// The admin API's own JSON bodies (the rest are WeftCore's model types). Keys are snake_case; the OpenAPI document
// (Sources/WeftAPI/openapi.yaml) describes each of them.

/// A list item: the object's own fields plus `revision`, the ETag to send back as If-Match.
struct RevisionedItem<Value: Encodable>: Encodable {
    var value: Value
    var revision: Int64

    private enum Keys: String, CodingKey { case revision }

    func encode(to encoder: any Encoder) throws {
        try value.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(revision, forKey: .revision)
    }
}

struct StatusView: Encodable {
    struct Counts: Encodable {
        var nodes: Int
        var nodesUp: Int
        var services: Int
        var intentions: Int
        var joinTokensValid: Int
        var adminTokens: Int

        enum CodingKeys: String, CodingKey {
            case nodes, services, intentions
            case nodesUp = "nodes_up"
            case joinTokensValid = "join_tokens_valid"
            case adminTokens = "admin_tokens"
        }
    }

    var revision: Int64
    var trustDomain: String
    var version: String
    var caFingerprint: String
    var counts: Counts
    var defaultAction: IntentionAction
    var stopAll: Bool
    var meshMode: MeshMode
    var egress: EgressPolicy
    var nodeStreams: [NodeConnectionStatus]

    enum CodingKeys: String, CodingKey {
        case revision, version, counts, egress
        case trustDomain = "trust_domain"
        case caFingerprint = "ca_fingerprint"
        case defaultAction = "default_action"
        case stopAll = "stop_all"
        case meshMode = "mesh_mode"
        case nodeStreams = "node_streams"
    }
}

/// A node with its endpoints, when it was last seen and its config stream.
struct NodeEntry: Encodable {
    var name: String
    var addresses: [IPAddress]
    var version: String
    var status: NodeRecord.Status
    var egress: EgressPolicy?
    var certificateSerial: String?
    var joinedAt: Date
    var lastSeen: Date?
    var revision: Int64
    var endpoints: [EndpointRecord]
    var stream: NodeConnectionStatus?

    init(_ view: NodeView, stream: NodeConnectionStatus?) {
        name = view.node.name
        addresses = view.node.addresses
        version = view.node.version
        status = view.node.status
        egress = view.node.egress
        certificateSerial = view.node.certificateSerial
        joinedAt = view.node.joinedAt
        lastSeen = view.lastSeen
        revision = view.revision
        endpoints = view.endpoints
        self.stream = stream
    }

    enum CodingKeys: String, CodingKey {
        case name, addresses, version, status, egress, revision, endpoints, stream
        case certificateSerial = "certificate_serial"
        case joinedAt = "joined_at"
        case lastSeen = "last_seen"
    }
}

/// A join token as admins see it: never its secret.
struct JoinTokenView: Encodable {
    var id: String
    var node: String
    var state: String
    var createdAt: Date
    var expiresAt: Date
    var createdBy: String
    var usedAt: Date?
    var revokedAt: Date?

    init(_ record: JoinTokenRecord, now: Date) {
        id = record.id
        node = record.nodeName
        state = record.state(at: now)
        createdAt = record.createdAt
        expiresAt = record.expiresAt
        createdBy = record.createdBy
        usedAt = record.usedAt
        revokedAt = record.revokedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, node, state
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case createdBy = "created_by"
        case usedAt = "used_at"
        case revokedAt = "revoked_at"
    }
}

/// The answer to creating a join token: the only time its text is shown.
struct CreatedJoinTokenView: Encodable {
    var id: String
    var node: String
    var token: String
    var expiresAt: Date

    enum CodingKeys: String, CodingKey {
        case id, node, token
        case expiresAt = "expires_at"
    }
}

/// An admin token as admins see it: never its secret or its hash.
struct AdminTokenView: Encodable {
    var id: String
    var name: String
    var scope: TokenScope
    var createdAt: Date
    /// Only in the answer to creating it.
    var token: String?

    init(_ record: AdminTokenRecord, token: String? = nil) {
        id = record.id
        name = record.name
        scope = record.scope
        createdAt = record.createdAt
        self.token = token
    }

    enum CodingKeys: String, CodingKey {
        case id, name, scope, token
        case createdAt = "created_at"
    }
}

struct CertificatesView: Encodable {
    struct Authority: Encodable {
        var trustDomain: String
        var subject: String
        var issuer: String
        var notBefore: Date
        var notAfter: Date
        /// SHA-256 of the CA certificate (DER), hex.
        var fingerprint: String
        var isRoot: Bool
        /// SHA-256 of the trust bundle's root: what join tokens carry.
        var trustBundleFingerprint: String

        enum CodingKeys: String, CodingKey {
            case subject, issuer, fingerprint
            case trustDomain = "trust_domain"
            case notBefore = "not_before"
            case notAfter = "not_after"
            case isRoot = "is_root"
            case trustBundleFingerprint = "trust_bundle_fingerprint"
        }
    }

    var authority: Authority
    var issued: [IssuedCertificateRecord]
}

struct AuthorizationView: Encodable {
    var source: String
    var destination: String
    var allowed: Bool
    var reason: String
    var intention: String?
}

struct AuditPage: Encodable {
    var entries: [AuditEntry]
    /// Pass as `after` to read the next page; equal to the request's `after` when there is nothing newer.
    var nextAfter: Int64

    enum CodingKeys: String, CodingKey {
        case entries
        case nextAfter = "next_after"
    }
}

// MARK: Request bodies that are not model types

struct JoinTokenRequest: AdminRequestBody {
    var node: String
    var ttlSeconds: Int

    static var shape: JSONShape { .object(["node": .value, "ttl_seconds": .value]) }

    enum CodingKeys: String, CodingKey {
        case node
        case ttlSeconds = "ttl_seconds"
    }
}

struct AdminTokenRequest: AdminRequestBody {
    var name: String
    var scope: TokenScope

    static var shape: JSONShape { .object(["name": .value, "scope": .oneOf(TokenScope.allCases.map(\.rawValue))]) }
}

struct EgressRequest: AdminRequestBody {
    /// nil: follow the mesh's egress policy.
    var egress: EgressPolicy?

    static var shape: JSONShape { .object(["egress": .oneOf(EgressPolicy.allCases.map(\.rawValue))]) }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard container.contains(.egress) else {
            throw DecodingError.keyNotFound(
                CodingKeys.egress, .init(codingPath: [], debugDescription: "egress is required (null follows the mesh)")
            )
        }
        egress = try container.decodeIfPresent(EgressPolicy.self, forKey: .egress)
    }

    enum CodingKeys: String, CodingKey { case egress }
}

struct DefaultActionRequest: AdminRequestBody {
    var action: IntentionAction
    static var shape: JSONShape { .object(["action": .oneOf(IntentionAction.allCases.map(\.rawValue))]) }
}

struct MeshModeRequest: AdminRequestBody {
    var mode: MeshMode
    static var shape: JSONShape { .object(["mode": .oneOf(MeshMode.allCases.map(\.rawValue))]) }
}
