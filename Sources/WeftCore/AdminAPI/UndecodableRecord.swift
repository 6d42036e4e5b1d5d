/// A stored record weftd cannot decode (edited by hand, or written by a newer weftd): left out of the config nodes
/// receive, and listed in `/v1/status` until it is fixed or deleted.
public struct UndecodableRecord: Sendable, Equatable, Hashable, Codable {
    /// The store's kind, e.g. `service`.
    public var kind: String
    /// The record's key, e.g. `default/backend`.
    public var name: String
    public var reason: String

    public init(kind: String, name: String, reason: String) {
        self.kind = kind
        self.name = name
        self.reason = reason
    }
}
