import Foundation
import Hummingbird
import WeftCore

extension AdminAPI {
    /// Nodes: list, show, set egress, set addresses, delete. Nodes join with a token (see JoinTokenRoutes) and
    /// register themselves; admins change their egress policy or addresses, or remove them.
    func addNodeRoutes(to routes: AdminRouteTable) {
        routes.get("/v1/nodes") { _, _ in
            let revision = try await registry.revision()
            let streams = streams()
            let nodes = try await registry.nodes().map { AdminNode($0, stream: streams[$0.node.name]) }
            return JSONResponse.make(["nodes": nodes], etag: revision)
        }

        routes.get("/v1/nodes/{name}") { _, context in
            let name = try Input.label("name", context)
            guard let view = try await registry.nodes().first(where: { $0.node.name == name }) else {
                throw RegistryError.notFound(kind: "node", key: name)
            }
            return JSONResponse.make(AdminNode(view, stream: streams()[name]), etag: view.revision)
        }

        routes.put("/v1/nodes/{name}/egress", scope: .intentions) { request, context in
            let name = try Input.label("name", context)
            let ifMatch = try ETag.ifMatch(request)
            let body = try await JSONBody.decode(EgressRequest.self, from: request, context: context)
            let updated = try await registry.setNodeEgress(
                name, egress: body.egress, ifMatch: ifMatch, actor: context.actor)
            return JSONResponse.make(updated.value, etag: updated.revision)
        }

        routes.put("/v1/nodes/{name}/addresses", scope: .nodes) { request, context in
            let name = try Input.label("name", context)
            let ifMatch = try ETag.ifMatch(request)
            let body = try await JSONBody.decode(NodeAddressesRequest.self, from: request, context: context)
            let updated = try await registry.setNodeAddresses(
                name, addresses: body.addresses, ifMatch: ifMatch, actor: context.actor)
            return JSONResponse.make(updated.value, etag: updated.revision)
        }

        routes.delete("/v1/nodes/{name}", scope: .nodes) { request, context in
            let name = try Input.label("name", context)
            let revision = try await registry.deleteNode(name, ifMatch: try ETag.ifMatch(request), actor: context.actor)
            return JSONResponse.noContent(etag: revision)
        }
    }
}
