import Foundation
import Hummingbird
import WeftCore

/// Bearer-token authentication and scope: GET and HEAD need a read token, every other method a write token.
/// Missing or unknown tokens get 401 with `WWW-Authenticate: Bearer`; a read token asking to write gets 403.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext
    let registry: Registry

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw AdminError(
                .unauthorized,
                "no bearer token: send 'Authorization: Bearer <token>' (weftctl: --token, WEFT_TOKEN or token in ~/.config/weft/config)",
                headers: [.wwwAuthenticate: "Bearer realm=\"weft\""]
            )
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw AdminError(
                .unauthorized, "the Authorization header must be 'Bearer <token>'",
                headers: [.wwwAuthenticate: "Bearer realm=\"weft\", error=\"invalid_request\""]
            )
        }
        let text = parts[1].trimmingCharacters(in: .whitespaces)
        guard let token = try await registry.authenticate(bearer: text) else {
            throw AdminError(
                .unauthorized,
                "the token is unknown or was deleted: ask an admin for a token (weftctl admin-tokens create)",
                headers: [.wwwAuthenticate: "Bearer realm=\"weft\", error=\"invalid_token\""]
            )
        }
        let needed: AdminTokenScope = request.method == .get || request.method == .head ? .read : .write
        guard token.scope.permits(needed) else {
            throw AdminError(
                .forbidden,
                "token '\(token.name)' has \(token.scope.rawValue) scope; \(request.method) needs a \(needed.rawValue) token"
            )
        }
        var context = context
        context.token = token
        return try await next(request, context)
    }
}
