import Foundation
import WeftCore

// The admin API's JSON bodies as the client reads them. Model types (services, intentions, settings) are WeftCore's;
// the rest mirror the server's views, as the OpenAPI document (Sources/WeftAPI/openapi.yaml) describes them.

/// A value and the revision to send back as If-Match when changing it.
public struct Revisioned<Value: Sendable>: Sendable {
    public var value: Value
    public var revision: Int64

    public init(value: Value, revision: Int64) {
        self.value = value
        self.revision = revision
    }
}

extension Revisioned: Equatable where Value: Equatable {}

private enum RevisionKeys: String, CodingKey { case revision }

/// List items carry their revision beside the object's own fields.
extension Revisioned: Decodable where Value: Decodable {
    public init(from decoder: any Decoder) throws {
        value = try Value(from: decoder)
        revision = try decoder.container(keyedBy: RevisionKeys.self).decode(Int64.self, forKey: .revision)
    }
}

extension Revisioned: Encodable where Value: Encodable {
    public func encode(to encoder: any Encoder) throws {
        try value.encode(to: encoder)
        var container = encoder.container(keyedBy: RevisionKeys.self)
        try container.encode(revision, forKey: .revision)
    }
}

public struct NodeStreamStatus: Sendable, Equatable, Codable {
    public var node: String
    public var connected: Bool
    public var sentVersion: UInt64?
    public var ackedVersion: UInt64?
    public var nackedVersion: UInt64?
    public var nackReason: String?
    public var lastChange: Date

    enum CodingKeys: String, CodingKey {
        case node, connected
        case sentVersion = "sent_version"
        case ackedVersion = "acked_version"
        case nackedVersion = "nacked_version"
        case nackReason = "nack_reason"
        case lastChange = "last_change"
    }
}

public struct AdminStatus: Sendable, Equatable, Codable {
    public struct Counts: Sendable, Equatable, Codable {
        public var nodes: Int
        public var nodesUp: Int
        public var services: Int
        public var intentions: Int
        public var joinTokensValid: Int
        public var adminTokens: Int

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
    public var caFingerprint: String
    public var counts: Counts
    public var defaultAction: IntentionAction
    public var stopAll: Bool
    public var meshMode: MeshMode
    public var egress: EgressPolicy
    public var nodeStreams: [NodeStreamStatus]

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

public struct AdminNode: Sendable, Equatable, Codable {
    public var name: String
    public var addresses: [IPAddress]
    public var version: String
    public var status: NodeRecord.Status
    public var egress: EgressPolicy?
    public var certificateSerial: String?
    public var joinedAt: Date
    public var lastSeen: Date?
    public var revision: Int64
    public var endpoints: [EndpointRecord]
    public var stream: NodeStreamStatus?

    enum CodingKeys: String, CodingKey {
        case name, addresses, version, status, egress, revision, endpoints, stream
        case certificateSerial = "certificate_serial"
        case joinedAt = "joined_at"
        case lastSeen = "last_seen"
    }
}

public struct JoinTokenInfo: Sendable, Equatable, Codable {
    public var id: String
    public var node: String
    /// valid, used, expired or revoked.
    public var state: String
    public var createdAt: Date
    public var expiresAt: Date
    public var createdBy: String
    public var usedAt: Date?
    public var revokedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, node, state
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case createdBy = "created_by"
        case usedAt = "used_at"
        case revokedAt = "revoked_at"
    }
}

public struct CreatedJoinToken: Sendable, Equatable, Codable {
    public var id: String
    public var node: String
    /// The token text, shown once: give it to `weft-node join`.
    public var token: String
    public var expiresAt: Date

    enum CodingKeys: String, CodingKey {
        case id, node, token
        case expiresAt = "expires_at"
    }
}

public enum AdminTokenScope: String, Sendable, Codable, CaseIterable {
    case read
    case write
}

public struct AdminToken: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var scope: AdminTokenScope
    public var createdAt: Date
    /// Only when just created.
    public var token: String?

    enum CodingKeys: String, CodingKey {
        case id, name, scope, token
        case createdAt = "created_at"
    }
}

public struct CertificatesInfo: Sendable, Equatable, Codable {
    public struct Authority: Sendable, Equatable, Codable {
        public var trustDomain: String
        public var subject: String
        public var issuer: String
        public var notBefore: Date
        public var notAfter: Date
        public var fingerprint: String
        public var isRoot: Bool
        public var trustBundleFingerprint: String

        enum CodingKeys: String, CodingKey {
            case subject, issuer, fingerprint
            case trustDomain = "trust_domain"
            case notBefore = "not_before"
            case notAfter = "not_after"
            case isRoot = "is_root"
            case trustBundleFingerprint = "trust_bundle_fingerprint"
        }
    }

    public struct Issued: Sendable, Equatable, Codable {
        public var serialNumber: String
        public var identity: String
        public var node: String
        public var notBefore: Date
        public var notAfter: Date

        enum CodingKeys: String, CodingKey {
            case identity, node
            case serialNumber = "serial_number"
            case notBefore = "not_before"
            case notAfter = "not_after"
        }
    }

    public var authority: Authority
    public var issued: [Issued]
}

public struct AuthorizationResult: Sendable, Equatable, Codable {
    public var source: String
    public var destination: String
    public var allowed: Bool
    public var reason: String
    public var intention: String?
}

public struct AuditRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var revision: Int64
    public var time: Date
    public var actor: String
    public var action: String
    public var kind: String
    public var key: String
    /// The object's JSON before and after the change; nil where it did not exist.
    public var before: String?
    public var after: String?
}

public struct AuditPage: Sendable, Equatable, Codable {
    public var entries: [AuditRecord]
    public var nextAfter: Int64

    enum CodingKeys: String, CodingKey {
        case entries
        case nextAfter = "next_after"
    }
}

/// The admin API's error body.
public struct AdminErrorBody: Sendable, Equatable, Codable {
    public var error: String
    public var field: String?
    public var currentRevision: Int64?

    enum CodingKeys: String, CodingKey {
        case error, field
        case currentRevision = "current_revision"
    }
}
