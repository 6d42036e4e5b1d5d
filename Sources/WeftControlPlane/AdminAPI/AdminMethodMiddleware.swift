import Hummingbird
import WeftCore

/// Requests no route matched: 405 with `Allow` when the path is served with other methods, else 404. Added after
/// every route, so it runs only where the router found no responder.
struct AdminMethodMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext
    let routes: [AdminRoute]

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let segments = Self.segments(of: request.uri.path)
        var methods = Set(routes.filter { Self.matches(segments, pattern: $0.path) }.map(\.method))
        guard !methods.isEmpty else { return try await next(request, context) }
        if methods.contains(HTTPRequest.Method.get.rawValue) { methods.insert(HTTPRequest.Method.head.rawValue) }
        let allowed = methods.sorted().joined(separator: ", ")
        throw AdminError(
            .methodNotAllowed, "\(request.method) is not served at \(request.uri.path); it takes \(allowed)",
            headers: [.allow: allowed])
    }

    static func segments(of path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }

    /// `{parameter}` stands for any one non-empty segment.
    static func matches(_ segments: [Substring], pattern: String) -> Bool {
        let expected = Self.segments(of: pattern)
        guard expected.count == segments.count else { return false }
        return zip(expected, segments).allSatisfy { wanted, actual in
            (wanted.hasPrefix("{") && wanted.hasSuffix("}")) || wanted == actual
        }
    }
}
