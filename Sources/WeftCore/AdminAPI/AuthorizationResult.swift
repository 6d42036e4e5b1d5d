/// GET /v1/authorize: how the mesh judges a call right now.
public struct AuthorizationResult: Sendable, Equatable, Codable {
    /// Empty for a caller without identity.
    public var source: String
    public var destination: String
    public var allowed: Bool
    public var reason: String
    /// The key (`source>destination`) of the deciding intention, if one decided.
    public var intention: String?

    public init(source: String, destination: String, allowed: Bool, reason: String, intention: String? = nil) {
        self.source = source
        self.destination = destination
        self.allowed = allowed
        self.reason = reason
        self.intention = intention
    }
}
