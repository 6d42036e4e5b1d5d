import Foundation
import Hummingbird
import WeftCore

/// Bearer-token authentication: missing or unknown tokens get 401 with `WWW-Authenticate: Bearer`. Each route then
/// checks the token's scope (``AdminScopeCheck``).
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
        var context = context
        context.token = token
        return try await next(request, context)
    }
}
