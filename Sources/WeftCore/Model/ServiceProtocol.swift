/// The application protocol a service speaks; decides whether the proxy handles it at L4 or L7.
public enum ServiceProtocol: String, Sendable, Codable, CaseIterable {
    case tcp
    case http
    case http2
    case grpc

    /// True for protocols the proxy parses request by request.
    public var isL7: Bool { self != .tcp }
}
