import Foundation
import Hummingbird
import WeftCore

extension AdminAPI {
    /// Telemetry settings (metrics push, traces, access log), switched at run time; nodes follow within a second.
    /// The ETag is the mesh settings' revision, of which telemetry is a part.
    func addTelemetryRoutes(to routes: AdminRouteTable) {
        routes.get("/v1/telemetry") { _, _ in
            let settings = try await registry.settings()
            return JSONResponse.make(settings.value.telemetry, etag: settings.revision)
        }

        routes.put("/v1/telemetry", scope: .admin) { request, context in
            let telemetry = try await JSONBody.decode(TelemetrySettings.self, from: request, context: context)
            let stored: Revisioned<MeshSettings>
            do {
                stored = try await changeSettings(request, context, action: "set telemetry") {
                    $0.telemetry = telemetry
                }
            } catch RegistryError.invalid(let field, let reason) where field.hasPrefix("telemetry.") {
                // The registry names fields within the mesh settings; this body is the telemetry part alone.
                throw AdminError.badRequest(reason, field: String(field.dropFirst("telemetry.".count)))
            }
            return JSONResponse.make(stored.value.telemetry, etag: stored.revision)
        }
    }
}
