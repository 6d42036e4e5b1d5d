import Foundation
import Hummingbird
import WeftCore

extension AdminAPI {
    /// GET /v1/status: the mesh at a glance.
    func addStatusRoutes(to routes: AdminRouteTable) {
        routes.get("/v1/status") { _, _ in
            let revision = try await registry.revision()
            let settings = try await registry.settings().value
            let nodes = try await registry.nodes()
            let at = now()
            let counts = AdminStatus.Counts(
                nodes: nodes.count,
                nodesUp: nodes.filter { $0.node.status == .up }.count,
                services: try await registry.services().count,
                intentions: try await registry.intentions().count,
                joinTokensValid: try await registry.joinTokens().filter { $0.value.state(at: at) == "valid" }.count,
                adminTokens: try await registry.adminTokens().count
            )
            let view = AdminStatus(
                revision: revision, trustDomain: registry.configuration.trustDomain, version: WeftVersion.current,
                caFingerprint: registry.authority.trustBundleFingerprint, counts: counts,
                defaultAction: settings.defaultAction, stopAll: settings.stopAll, meshMode: settings.meshMode,
                egress: settings.egress, nodeStreams: streams().values.sorted { $0.node < $1.node },
                undecodableRecords: nodeStatus?.undecodableRecords() ?? []
            )
            return JSONResponse.make(view, etag: revision)
        }
    }
}
