import Hummingbird
import WeftCore

/// The scope check every authenticated route runs: 403 naming the scope needed when the token's does not permit it.
enum AdminScopeCheck {
    static func require(
        _ needed: AdminTokenScope, of token: AdminTokenRecord?, for method: HTTPRequest.Method
    ) throws(AdminError) {
        guard let token else {
            throw AdminError(.unauthorized, "this route needs a bearer token")
        }
        guard token.scope.permits(needed) else {
            let scopes = needed == .admin ? "admin scope" : "\(needed.rawValue) or admin scope"
            throw AdminError(
                .forbidden,
                "token '\(token.name)' has \(token.scope.rawValue) scope; this \(method) needs a token with \(scopes) (weftctl admin-tokens create NAME --scope \(needed.rawValue))"
            )
        }
    }
}
