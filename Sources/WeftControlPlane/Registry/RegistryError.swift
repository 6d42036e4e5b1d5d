import WeftCore
import WeftIdentity

/// Why the registry refused an operation. The admin API maps these to HTTP statuses, the node API to gRPC codes.
public enum RegistryError: Error, CustomStringConvertible {
    case notFound(kind: String, key: String)
    /// The object changed since the revision the caller based its change on (HTTP 409).
    case staleRevision(kind: String, key: String, current: Int64?)
    /// A field of the input is invalid; nothing changed.
    case invalid(field: String, reason: String)
    /// A join token was unknown, expired, used, revoked or for another node.
    case joinRefused(String)
    /// The caller may not do this (a node asking for another node's service, for instance).
    case forbidden(String)
    case csrRejected(CSRRejection)
    /// The VIP range has no free address.
    case vipRangeExhausted(IPCIDR)
    /// The change would leave the mesh in a state it must never be in (HTTP 409), such as no write token.
    case refusedChange(String)
    case store(StoreError)

    public var description: String {
        switch self {
        case .notFound(let kind, let key): return "\(kind) '\(key)' does not exist"
        case .staleRevision(let kind, let key, let current):
            let now = current.map { "is now at revision \($0)" } ?? "no longer exists"
            return "\(kind) '\(key)' \(now): read it again and base the change on that revision"
        case .invalid(let field, let reason): return "\(field): \(reason)"
        case .joinRefused(let reason): return "join refused: \(reason)"
        case .forbidden(let reason), .refusedChange(let reason): return reason
        case .csrRejected(let rejection): return "certificate request refused: \(rejection)"
        case .vipRangeExhausted(let range): return "no free VIP left in \(range): widen vip_range"
        case .store(let error): return error.description
        }
    }

    /// Maps a store conflict on the object the caller named to `staleRevision`.
    static func from(_ error: StoreError) -> RegistryError {
        if case .conflict(let kind, let key, _, let actual) = error {
            return .staleRevision(kind: kind.rawValue, key: key, current: actual)
        }
        return .store(error)
    }
}
