import Logging
import ServiceLifecycle
import WeftCore
import WeftSystemd

/// Tells `onReady` where weftd listens once both APIs are bound, and systemd (`notifier`) that weftd is ready, then
/// that it is stopping once a graceful shutdown begins.
struct ControlPlaneReadyAnnouncement: Service {
    let readiness: Readiness<ControlPlaneReadinessName>
    let ready: @Sendable () async throws -> ControlPlane.Ready
    let notifier: SystemdNotifier?
    let logger: Logger
    let onReady: @Sendable (ControlPlane.Ready) -> Void

    func run() async throws {
        for name in ControlPlaneReadinessName.allCases { await readiness.waitUntilReady(name) }
        guard !Task.isCancelled else { return }
        let ready = try await ready()
        onReady(ready)
        tell(
            .ready(
                status:
                    "serving nodes on \(ready.nodeListener), joins on \(ready.joinListener), admins on \(ready.adminListener)"
            ))
        try? await gracefulShutdown()
        tell(.stopping(status: "stopping: node streams and the admin API close"))
    }

    private func tell(_ notification: SystemdNotifier.Notification) {
        do { try notifier?.notify(notification) } catch {
            logger.warning("cannot notify systemd", metadata: ["error": "\(error)"])
        }
    }
}
