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
    private let state: NIOLockedValueBox<(desired: CaptureConfiguration, controller: CaptureController?)>
    /// Stops the reconcile loop (which would put a removed table back), and says when it has stopped.
    private let stopReconciling = OneShotEvent()
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
        self.state = NIOLockedValueBox((configuration, nil))
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
                group.addTask { await self.stopReconciling.wait() }
                await group.next()
                group.cancelAll()
            }
        }
        _ = reconcileEnded.fire()
        await remove()
    }

    /// Removes the table unless the node keeps it (`fail_closed`, or handed over): the host's traffic flows
    /// unmeshed from then on. Called before the listeners close, and again (doing nothing) as the service stops.
    func remove() async {
        guard !failClosed, stop.reason?.keepsCapture != true else { return }
        let controller = state.withLockedValue { state in
            defer { state.controller = nil }
            return state.controller
        }
        guard let controller else { return }
        _ = stopReconciling.fire()
        await reconcileEnded.wait()
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
            return state.controller
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
