#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// POST /v1/node-tokens: a one-time token with which `node` can join, valid for `ttlSeconds`.
public struct JoinTokenRequest: Sendable, Equatable, Codable {
    public var node: String
    public var ttlSeconds: Int
    /// The node's addresses, fixed by the token; the join must come from one of them. Nil: the node declares its
    /// addresses when it joins, and they must include the one it joins from.
    public var addresses: [IPAddress]?

    public init(node: String, ttlSeconds: Int, addresses: [IPAddress]? = nil) {
        self.node = node
        self.ttlSeconds = ttlSeconds
        self.addresses = addresses
    }

    enum CodingKeys: String, CodingKey {
        case node, addresses
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
    public var addresses: [IPAddress]?

    public init(id: String, node: String, token: String, expiresAt: Date, addresses: [IPAddress]? = nil) {
        self.id = id
        self.node = node
        self.token = token
        self.expiresAt = expiresAt
        self.addresses = addresses
    }

    enum CodingKeys: String, CodingKey {
        case id, node, token, addresses
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
    /// The addresses the token fixes for the node; nil when the node declares them at join.
    public var addresses: [IPAddress]?

    public init(
        id: String, node: String, state: String, createdAt: Date, expiresAt: Date, createdBy: String,
        usedAt: Date? = nil, revokedAt: Date? = nil, addresses: [IPAddress]? = nil
    ) {
        self.addresses = addresses
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
        case id, node, state, addresses
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case createdBy = "created_by"
        case usedAt = "used_at"
        case revokedAt = "revoked_at"
    }
}
