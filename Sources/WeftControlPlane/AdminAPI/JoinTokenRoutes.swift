import Foundation
import Hummingbird
import WeftCore

extension AdminAPI {
    /// One-time join tokens for nodes: create (the token text is in this answer only), list (never the secret),
    /// revoke.
    func addJoinTokenRoutes(to routes: AdminRouteTable) {
        routes.post("/v1/node-tokens", scope: .nodes) { request, context in
            let body = try await JSONBody.decode(JoinTokenRequest.self, from: request, context: context)
            try Input.validateLabel(body.node, field: "node")
            guard (1...(30 * 24 * 3600)).contains(body.ttlSeconds) else {
                throw AdminError.badRequest("must be between 1 second and 30 days (2592000)", field: "ttl_seconds")
            }
            let (token, record) = try await registry.createJoinToken(
                nodeName: body.node, ttl: .seconds(body.ttlSeconds), addresses: body.addresses, actor: context.actor
            )
            let view = CreatedJoinToken(
                id: token.id, node: record.nodeName, token: token.text, expiresAt: record.expiresAt,
                addresses: record.addresses)
            return JSONResponse.make(view, status: .created)
        }

        routes.get("/v1/node-tokens") { _, _ in
            let revision = try await registry.revision()
            let at = now()
            let tokens = try await registry.joinTokens().map { JoinTokenInfo($0.value, now: at) }
            return JSONResponse.make(["tokens": tokens], etag: revision)
        }

        routes.delete("/v1/node-tokens/{id}", scope: .nodes) { _, context in
            let id = try Input.path("id", context)
            try await registry.revokeJoinToken(id: id, actor: context.actor)
            return JSONResponse.noContent()
        }
    }
}
