import Foundation
import Hummingbird
import WeftCore

extension AdminAPI {
    /// Services: list, show, create or replace (admin-defined and external services), delete. The VIP is assigned
    /// by the registry: a `vip` in a PUT body is ignored, so a GET body can be edited and sent back.
    func addServiceRoutes(to routes: AdminRouteTable) {
        routes.get("/v1/services") { _, _ in
            let revision = try await registry.revision()
            let services = try await registry.services()
            return JSONResponse.make(["services": services], etag: revision)
        }

        routes.get("/v1/services/{namespace}/{name}") { _, context in
            let name = try serviceName(context)
            guard let service = try await registry.service(name) else {
                throw RegistryError.notFound(kind: "service", key: name.description)
            }
            return JSONResponse.make(service.value, etag: service.revision)
        }

        routes.put("/v1/services/{namespace}/{name}", scope: .nodes) { request, context in
            let name = try serviceName(context)
            let ifMatch = try ETag.ifMatch(request)
            let record = try await JSONBody.decode(ServiceRecord.self, from: request, context: context) { body in
                // The path names the service; a body may repeat the name but not contradict it.
                if let given = body["name"] {
                    guard let text = given as? String, (try? ServiceName(parsing: text)) == name else {
                        throw AdminError.badRequest("must be '\(name)' as in the path, or left out", field: "name")
                    }
                } else {
                    body["name"] = name.description
                }
            }
            guard record.origin != .discovered else {
                throw AdminError.badRequest(
                    "admins define services with origin 'admin' or 'external'; 'discovered' is for nodes",
                    field: "origin"
                )
            }
            let stored = try await registry.putService(record, ifMatch: ifMatch, actor: context.actor)
            return JSONResponse.make(stored.value, etag: stored.revision)
        }

        routes.delete("/v1/services/{namespace}/{name}", scope: .nodes) { request, context in
            let name = try serviceName(context)
            try await registry.deleteService(name, ifMatch: try ETag.ifMatch(request), actor: context.actor)
            return JSONResponse.noContent()
        }
    }

    /// Placement: which nodes besides the first may serve a service or call as it.
    func addServicePlacementRoutes(to routes: AdminRouteTable) {
        routes.put("/v1/services/{namespace}/{name}/nodes/{node}", scope: .nodes) { _, context in
            let stored = try await registry.allowNode(
                try Input.label("node", context), for: try serviceName(context), actor: context.actor)
            return JSONResponse.make(stored.value, etag: stored.revision)
        }

        routes.delete("/v1/services/{namespace}/{name}/nodes/{node}", scope: .nodes) { _, context in
            let stored = try await registry.disallowNode(
                try Input.label("node", context), for: try serviceName(context), actor: context.actor)
            return JSONResponse.make(stored.value, etag: stored.revision)
        }
    }

    private func serviceName(_ context: AdminRequestContext) throws -> ServiceName {
        ServiceName(namespace: try Input.label("namespace", context), name: try Input.label("name", context))
    }
}
