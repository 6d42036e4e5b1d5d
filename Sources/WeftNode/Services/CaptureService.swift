import Logging
import NIOConcurrencyHelpers
import NIOPosix
import ServiceLifecycle
import WeftCapture

/// The node's nftables capture: installed once the listeners it redirects to are bound (`listeners` readiness),
/// kept as configured (reconciled against anyone else's changes) while the node runs, and removed on stop when
/// the settings ask for it (`--cleanup-on-exit`). Netlink calls run on the thread pool.
final class CaptureService: Service {
    private let readiness: NodeReadiness
    private let installed: NodeReadinessToken
    private let removeOnStop: Bool
    private let logger: Logger
    private let state: NIOLockedValueBox<(desired: CaptureConfiguration, controller: CaptureController?)>

    init(configuration: CaptureConfiguration, readiness: NodeReadiness, removeOnStop: Bool, logger: Logger) {
        self.readiness = readiness
        self.installed = readiness.register(.capture)
        self.removeOnStop = removeOnStop
        self.logger = logger
        self.state = NIOLockedValueBox((configuration, nil))
    }

    func run() async throws {
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
        await cancelWhenGracefulShutdown { await controller.reconcileContinuously() }
        guard removeOnStop else { return }
        do {
            try await NIOThreadPool.singleton.runIfActive { _ = try controller.uninstall() }
            logger.info("capture removed (--cleanup-on-exit)")
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
