import Logging
import ServiceLifecycle
import WeftSystemd

/// Says "weft-node ready" in the log once the node serves captured traffic: its listeners are bound and the
/// capture is installed. Tells systemd (`notifier`) READY=1 once config and certificates are in place too (its
/// STATUS line says what is still awaited meanwhile), and STOPPING=1 when the node starts to drain.
struct ReadyAnnouncement: Service {
    let readiness: NodeReadiness
    let notifier: SystemdNotifier?
    let logger: Logger
    let metadata: Logger.Metadata

    func run() async throws {
        // A stop asked for while still starting (a control plane away at first start) ends the waiting.
        let started = await cancelWhenGracefulShutdown { await announce() }
        if started { _ = await StopRequest.next() }
        tell(.stopping(status: "draining open connections"))
    }

    /// True once READY=1 went out; false when the wait was cut short.
    private func announce() async -> Bool {
        await readiness.waitUntilReady(.listeners)
        await readiness.waitUntilReady(.capture)
        guard !Task.isCancelled else { return false }
        logger.info("weft-node ready", metadata: metadata)
        let pending = readiness.pending
        if !pending.isEmpty {
            tell(.status("capturing; waiting for: \(pending.map(\.rawValue).joined(separator: ", "))"))
        }
        await readiness.waitUntilReady(.config)
        await readiness.waitUntilReady(.certificates)
        guard !Task.isCancelled else { return false }
        let node = metadata["node"].map { "\($0)" } ?? "?"
        let controlPlane = metadata["controlPlane"].map { "\($0)" } ?? "?"
        tell(.ready(status: "serving: node \(node), config from \(controlPlane)"))
        return true
    }

    private func tell(_ notification: SystemdNotifier.Notification) {
        do { try notifier?.notify(notification) } catch {
            logger.warning("cannot notify systemd", metadata: ["error": "\(error)"])
        }
    }
}
