import Foundation
import Hummingbird
import WeftCore

extension AdminAPI {
    /// Admin API tokens: create (the token text is in this answer only), list (never secrets), delete.
    func addAdminTokenRoutes(to routes: AdminRouteTable) {
        routes.post("/v1/admin-tokens", scope: .admin) { request, context in
            let body = try await JSONBody.decode(AdminTokenRequest.self, from: request, context: context)
            let (text, record) = try await registry.createAdminToken(
                name: body.name, scope: body.scope, actor: context.actor)
            return JSONResponse.make(AdminToken(record, token: text), status: .created)
        }

        routes.on(.get, "/v1/admin-tokens", scope: .admin) { _, _ in
            let tokens = try await registry.adminTokens().map { AdminToken($0) }
            return JSONResponse.make(["tokens": tokens], etag: try await registry.revision())
        }

        routes.delete("/v1/admin-tokens/{id}", scope: .admin) { _, context in
            try await registry.deleteAdminToken(id: try Input.path("id", context), actor: context.actor)
            return JSONResponse.noContent()
        }
    }
}
