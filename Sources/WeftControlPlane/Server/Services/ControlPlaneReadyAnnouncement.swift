import ServiceLifecycle
import WeftCore

/// Tells `onReady` where weftd listens once both APIs are bound.
struct ControlPlaneReadyAnnouncement: Service {
    let readiness: Readiness<ControlPlaneReadinessName>
    let ready: @Sendable () async throws -> ControlPlane.Ready
    let onReady: @Sendable (ControlPlane.Ready) -> Void

    func run() async throws {
        for name in ControlPlaneReadinessName.allCases { await readiness.waitUntilReady(name) }
        guard !Task.isCancelled else { return }
        onReady(try await ready())
        try? await gracefulShutdown()
    }
}
