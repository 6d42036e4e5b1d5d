import Logging
import NIOConcurrencyHelpers
import NIOPosix
import ServiceLifecycle
import WeftCapture

/// The node's nftables capture: installed once the listeners it redirects to are bound (`listeners` readiness),
/// kept as configured (reconciled against anyone else's changes) while the node runs, and removed when the node
/// stops unless `fail_closed` or it handed over to a successor (which serves the same table). Netlink calls run on
/// the thread pool.
final class CaptureService: Service {
    private let readiness: NodeReadiness
    private let installed: NodeReadinessToken
    private let failClosed: Bool
    private let stop: NodeStop
    private let logger: Logger
    private let state:
        NIOLockedValueBox<(desired: CaptureConfiguration, controller: CaptureController?, capturing: Bool)>
    /// Stops the reconcile loop (which would put a removed table back), and says when it has stopped.
    private let stopReconcilingEvent = OneShotEvent()
    private let reconcileEnded = OneShotEvent()

    init(
        configuration: CaptureConfiguration, readiness: NodeReadiness, failClosed: Bool, stop: NodeStop,
        logger: Logger
    ) {
        self.readiness = readiness
        self.installed = readiness.register(.capture)
        self.failClosed = failClosed
        self.stop = stop
        self.logger = logger
        self.state = NIOLockedValueBox((configuration, nil, true))
    }

    func run() async throws {
        defer { _ = reconcileEnded.fire() }
        await readiness.waitUntilReady(.listeners)
        guard !Task.isCancelled else { return }
        let configuration = state.withLockedValue { $0.desired }
        let controller = try CaptureController(
            configuration: configuration, connection: try NftablesConnection(), logger: logger)
        let took = try await NIOThreadPool.singleton.runIfActive { try controller.install().duration }
        let latest = state.withLockedValue { state in
            state.controller = controller
            return state.desired
        }
        installed.ready()
        logger.info(
            "capture installed",
            metadata: [
                "table": "inet \(configuration.tableName)", "took": "\(took)",
                "vips": "\(configuration.vipRanges)", "meshEndpoints": "\(configuration.meshEndpoints.count)",
                "outboundPorts": "\(configuration.outboundPorts)",
                "inboundPorts": "\(configuration.inboundPorts)",
            ])
        if latest != configuration {
            do { try await update(latest) } catch { logger.error("cannot update the capture: \(error)") }
        }
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await controller.reconcileContinuously() }
                group.addTask { await self.stopReconcilingEvent.wait() }
                await group.next()
                group.cancelAll()
            }
        }
        _ = reconcileEnded.fire()
        // A service that ends before the group stops would fail the group.
        try? await gracefulShutdown()
        await remove()
    }

    /// Stops keeping the table as configured (no reconcile, no update from a new config) and leaves it as it is: a
    /// successor keeps it now. Returns once the reconcile loop has ended.
    func stopReconciling() async {
        let installed = state.withLockedValue { state in
            state.capturing = false
            return state.controller != nil
        }
        guard installed else { return }
        _ = stopReconcilingEvent.fire()
        await reconcileEnded.wait()
    }

    /// Captures no new connection unless the node keeps the capture (`fail_closed`): new connections flow unmeshed,
    /// those already redirected keep working while they drain. Called before the listeners close; the table goes
    /// once the node has drained (`remove`).
    func stopCapturing() async {
        guard !failClosed, let controller = state.withLockedValue({ $0.controller }) else { return }
        await stopReconciling()
        do {
            try await NIOThreadPool.singleton.runIfActive { try controller.stopCapturing() }
            state.withLockedValue { $0.capturing = false }
            logger.info("capture stopped: new connections flow unmeshed; open ones drain")
        } catch {
            logger.error("cannot stop the capture: \(error)")
        }
    }

    /// Removes the table, once the reconcile loop has ended, unless the node keeps it (`fail_closed`, or handed
    /// over): the host's traffic flows unmeshed from then on.
    private func remove() async {
        guard !failClosed, stop.reason?.keepsCapture != true else { return }
        let controller = state.withLockedValue { state in
            defer { state.controller = nil }
            return state.controller
        }
        guard let controller else { return }
        do {
            if try await NIOThreadPool.singleton.runIfActive({ try controller.uninstall() }) {
                logger.info("capture removed: this host's traffic flows unmeshed until a node runs again")
            }
        } catch {
            logger.error("cannot remove the capture table: \(error)")
        }
    }

    /// Puts a new capture configuration (from a new config version) into effect; before the install it only
    /// becomes what will be installed. An invalid configuration changes nothing and throws.
    func update(_ configuration: CaptureConfiguration) async throws {
        let controller = state.withLockedValue { state in
            state.desired = configuration
            return state.capturing ? state.controller : nil
        }
        guard let controller else { return }
        if try await NIOThreadPool.singleton.runIfActive({ try controller.update(configuration) }) {
            logger.info(
                "capture updated",
                metadata: [
                    "vips": "\(configuration.vipRanges)", "meshEndpoints": "\(configuration.meshEndpoints.count)",
                    "outboundPorts": "\(configuration.outboundPorts)",
                    "inboundPorts": "\(configuration.inboundPorts)",
                ])
        }
    }
}
