import Foundation
import Logging
import NIOCore
import NIOPosix
import WeftCapture
import WeftCore
import WeftProxy

/// The node agent: loads the node config, starts the proxy listeners and the DNS resolver, installs the capture
/// and keeps it in place until stopped.
public final class NodeAgent: Sendable {
    public let settings: NodeSettings
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup

    public init(settings: NodeSettings, logger: Logger = Logger(label: "weft.node")) {
        self.settings = settings
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup.singleton
    }

    /// Runs until the task is cancelled (SIGTERM/SIGINT in `weft-node run`). Fails early, before touching the
    /// capture, when a listener cannot bind or the config is invalid.
    public func run() async throws {
        let plan = try settings.loadPlan()
        let (state, overrides, capture) = (plan.state, plan.overrides, plan.capture)
        let config = state.config
        for error in plan.fileErrors { logger.error("services.d: \(error)") }
        try capture.validate()

        let identities: SourceIdentityResolver?
        do {
            identities = SourceIdentityResolver(diagnostics: try SocketDiagnostics(), cgroups: try CgroupResolver())
        } catch {
            identities = nil
            logger.warning("source identity is off: \(error)")
        }
        let connector = UpstreamConnector(socketMark: capture.socketMark)
        let accessLog = AccessLog.standardOutput()
        let loopback4 = IPAddress.v4(0x7F00_0001), loopback6 = IPAddress.v6(0, 1)
        let outbound = CaptureListener(
            configuration: .init(direction: "outbound", bindAddresses: [
                IPSocketAddress(address: loopback4, port: capture.outboundListenerPort),
                IPSocketAddress(address: loopback6, port: capture.outboundListenerPort),
            ]),
            group: group, inspector: NodeConnectionInspector(identities: identities),
            router: OutboundRouter(state: state), connector: connector, accessLog: accessLog, logger: logger)
        let inbound = CaptureListener(
            configuration: .init(direction: "inbound", bindAddresses: [
                IPSocketAddress(address: .v4(0), port: capture.inboundListenerPort),
                IPSocketAddress(address: .v6(0, 0), port: capture.inboundListenerPort),
            ]),
            group: group, inspector: NodeConnectionInspector(identities: nil),
            router: InboundPlaintextRouter(ports: settings.inboundPorts(for: state, overrides: overrides)),
            connector: connector, accessLog: accessLog, logger: logger)

        var resolver: DNSResolver?
        var controller: CaptureController?
        var reconciler: Task<Void, Never>?
        do {
            try await outbound.start()
            try await inbound.start()
            if settings.dnsEnabled {
                var dns = DNSResolverConfiguration(socketMark: capture.socketMark)
                dns.listenAddresses = [
                    IPSocketAddress(address: loopback4, port: capture.dnsPort),
                    IPSocketAddress(address: loopback6, port: capture.dnsPort),
                ]
                dns.upstreams = settings.dnsUpstreams
                    ?? ResolvConf.load(logger: logger).upstreams(excluding: dns.listenAddresses)
                let started = try DNSResolver(configuration: dns, eventLoopGroup: group, logger: logger)
                started.update(names: state.meshNames)
                try await started.start()
                resolver = started
            }
            if settings.captureEnabled {
                let installed = try CaptureController(
                    configuration: capture, connection: try NftablesConnection(), logger: logger)
                let took = try installed.install().duration
                controller = installed
                logger.info("capture installed", metadata: [
                    "table": "inet \(capture.tableName)", "took": "\(took)",
                    "vips": "\(capture.vipRanges)", "outboundPorts": "\(capture.outboundPorts)",
                    "inboundPorts": "\(capture.inboundPorts)",
                ])
                reconciler = Task { await installed.reconcileContinuously() }
            }
            logger.info("weft-node ready", metadata: [
                "node": "\(config.node)", "configVersion": "\(config.version)", "services": "\(config.services.count)",
            ])
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(3600))
            }
        } catch {
            logger.error("weft-node failed: \(error)")
            await stop(outbound, inbound, resolver, controller, reconciler)
            throw error
        }
        await stop(outbound, inbound, resolver, controller, reconciler)
    }

    private func stop(
        _ outbound: CaptureListener, _ inbound: CaptureListener, _ resolver: DNSResolver?,
        _ controller: CaptureController?, _ reconciler: Task<Void, Never>?
    ) async {
        reconciler?.cancel()
        await reconciler?.value
        if let controller, settings.cleanupOnExit {
            do {
                try controller.uninstall()
                logger.info("capture removed (--cleanup-on-exit)")
            } catch {
                logger.error("cannot remove the capture table: \(error)")
            }
        }
        await outbound.shutdown()
        await inbound.shutdown()
        await resolver?.shutdown()
        logger.info("weft-node stopped")
    }
}
