#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What an admin API bearer token may do. Every scope reads; each other scope adds one kind of change, and `admin`
/// may do everything (admin tokens, certificates, telemetry and mesh settings among it).
public enum AdminTokenScope: String, Sendable, Codable, CaseIterable {
    /// GET and HEAD only.
    case read
    /// Traffic policy: intentions, the default action, the mesh mode, stop-all and resume.
    case intentions
    /// The registry: nodes, join tokens, services and service placement.
    case nodes
    /// Everything.
    case admin

    /// The name earlier versions used for `admin`; still accepted wherever a scope is read.
    public static let legacyWriteName = "write"

    /// A scope from its name, `write` (the earlier name of `admin`) included.
    public init?(name: String) {
        if name == Self.legacyWriteName {
            self = .admin
        } else if let scope = AdminTokenScope(rawValue: name) {
            self = scope
        } else {
            return nil
        }
    }

    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let scope = AdminTokenScope(name: name) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription:
                        "'\(name)' is not one of \(AdminTokenScope.allCases.map(\.rawValue).joined(separator: ", "))"
                ))
        }
        self = scope
    }

    /// Whether a token of this scope may do what needs `needed`.
    public func permits(_ needed: AdminTokenScope) -> Bool {
        self == .admin || needed == .read || self == needed
    }
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
