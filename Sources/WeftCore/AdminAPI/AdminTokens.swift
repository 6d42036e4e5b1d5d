#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What an admin API bearer token may do: read, or read and write.
public enum AdminTokenScope: String, Sendable, Codable, CaseIterable {
    case read
    case write
}

/// POST /v1/admin-tokens.
public struct AdminTokenRequest: Sendable, Equatable, Codable {
    public var name: String
    public var scope: AdminTokenScope

    public init(name: String, scope: AdminTokenScope) {
        self.name = name
        self.scope = scope
    }
}

/// An admin token as admins see it: never its secret or its hash.
public struct AdminToken: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var scope: AdminTokenScope
    public var createdAt: Date
    /// The token text: only in the answer to creating it.
    public var token: String?

    public init(id: String, name: String, scope: AdminTokenScope, createdAt: Date, token: String? = nil) {
        self.id = id
        self.name = name
        self.scope = scope
        self.createdAt = createdAt
        self.token = token
    }

    enum CodingKeys: String, CodingKey {
        case id, name, scope, token
        case createdAt = "created_at"
    }
}
