import Foundation
import Hummingbird
import WeftCore

extension AdminAPI {
    /// Mesh-wide settings: read and replace them whole, or change one thing — stop all traffic, resume, the
    /// default action, the mesh mode. Each answers with the settings as they are afterwards.
    func addMeshRoutes(to routes: AdminRouteTable) {
        routes.get("/v1/mesh") { _, _ in
            let settings = try await registry.settings()
            return JSONResponse.make(settings.value, etag: settings.revision)
        }

        routes.put("/v1/mesh", scope: .admin) { request, context in
            let ifMatch = try ETag.ifMatch(request)
            let settings = try await JSONBody.decode(MeshSettings.self, from: request, context: context)
            let stored = try await registry.putSettings(settings, ifMatch: ifMatch, actor: context.actor)
            return JSONResponse.make(stored.value, etag: stored.revision)
        }

        routes.post("/v1/mesh/stop-all", scope: .intentions) { request, context in
            let stored = try await changeSettings(request, context, action: "stop all traffic") { $0.stopAll = true }
            return JSONResponse.make(stored.value, etag: stored.revision)
        }

        routes.post("/v1/mesh/resume", scope: .intentions) { request, context in
            let stored = try await changeSettings(request, context, action: "resume traffic") { $0.stopAll = false }
            return JSONResponse.make(stored.value, etag: stored.revision)
        }

        routes.put("/v1/mesh/default", scope: .intentions) { request, context in
            let body = try await JSONBody.decode(DefaultActionRequest.self, from: request, context: context)
            let stored = try await changeSettings(
                request, context, action: "set default action to \(body.action.rawValue)"
            ) {
                $0.defaultAction = body.action
            }
            return JSONResponse.make(stored.value, etag: stored.revision)
        }

        routes.put("/v1/mesh/mode", scope: .intentions) { request, context in
            let body = try await JSONBody.decode(MeshModeRequest.self, from: request, context: context)
            let stored = try await changeSettings(request, context, action: "set mesh mode to \(body.mode.rawValue)") {
                $0.meshMode = body.mode
            }
            return JSONResponse.make(stored.value, etag: stored.revision)
        }
    }

    /// Changes the mesh settings: at the If-Match revision when the request has one, otherwise at whatever the
    /// current revision is (retrying when another writer got in between).
    func changeSettings(
        _ request: Request, _ context: AdminRequestContext, action: String, _ change: (inout MeshSettings) -> Void
    ) async throws -> Revisioned<MeshSettings> {
        guard let ifMatch = try ETag.ifMatch(request) else {
            return try await registry.updateSettings(actor: context.actor, action: action, change)
        }
        var settings = try await registry.settings().value
        change(&settings)
        return try await registry.putSettings(settings, ifMatch: ifMatch, actor: context.actor, action: action)
    }
}
