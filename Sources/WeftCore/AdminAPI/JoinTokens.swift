#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// POST /v1/node-tokens: a one-time token with which `node` can join, valid for `ttlSeconds`.
public struct JoinTokenRequest: Sendable, Equatable, Codable {
    public var node: String
    public var ttlSeconds: Int

    public init(node: String, ttlSeconds: Int) {
        self.node = node
        self.ttlSeconds = ttlSeconds
    }

    enum CodingKeys: String, CodingKey {
        case node
        case ttlSeconds = "ttl_seconds"
    }
}

/// The answer to creating a join token: the only time its text is shown.
public struct CreatedJoinToken: Sendable, Equatable, Codable {
    public var id: String
    public var node: String
    /// The token text: give it to `weft-node join`.
    public var token: String
    public var expiresAt: Date

    public init(id: String, node: String, token: String, expiresAt: Date) {
        self.id = id
        self.node = node
        self.token = token
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case id, node, token
        case expiresAt = "expires_at"
    }
}

/// A join token as admins see it: never its secret.
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

    public init(
        id: String, node: String, state: String, createdAt: Date, expiresAt: Date, createdBy: String,
        usedAt: Date? = nil, revokedAt: Date? = nil
    ) {
        self.id = id
        self.node = node
        self.state = state
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.createdBy = createdBy
        self.usedAt = usedAt
        self.revokedAt = revokedAt
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
