import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WeftAPI
import WeftCapture
import WeftCore
import WeftProxy

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The node agent: loads or joins, starts the proxy listeners (outbound, inbound plaintext, HBONE), the DNS
/// resolver and the admin endpoint, installs the capture, follows the control plane's config, and drains on stop.
public final class NodeAgent: Sendable {
    public let settings: NodeSettings
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup

    public init(settings: NodeSettings, logger: Logger = Logger(label: "weft.node")) {
        self.settings = settings
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup.singleton
    }

    public enum Error: Swift.Error, CustomStringConvertible {
        case noCredentials(stateDirectory: String)
        case join(ControlPlaneClientError)

        public var description: String {
            switch self {
            case .noCredentials(let directory):
                "this node has not joined the mesh: no credentials in \(directory); give a join token (weftctl node token create --name <node>) with --join-token or --join-token-file"
            case .join(let error): "cannot join the mesh: \(error)"
            }
        }
    }

    /// What the node is running on right now; read by /readyz and /config_dump.
    private final class Status: Sendable {
        let captureInstalled = NIOLockedValueBox(false)
        let configVersion = NIOLockedValueBox<UInt64>(0)
    }

    /// Runs until the task is cancelled (SIGTERM/SIGINT in `weft-node run`), then drains. Fails early, before
    /// touching the capture, when a listener cannot bind, the config is invalid or the node cannot join.
    public func run() async throws {
        let plan = try settings.loadPlan()
        let overrides = plan.overrides
        for error in plan.fileErrors { logger.error("services.d: \(error)") }
        try plan.capture.validate()

        // Mesh membership: credentials (joining first if needed), the last good config, certificates.
        let member:
            (state: NodeStateDirectory, certificates: NodeCertificates, cache: ConfigCache, address: IPSocketAddress)?
        // Local processes that called out before their service had a certificate (clients listen on nothing, so
        // discovery cannot know them): registered as workloads of this node, certificates obtained for them.
        let clientWorkloads = NIOLockedValueBox<Set<ServiceName>>([])
        let tls = MeshTLSStore { service in clientWorkloads.withLockedValue { _ = $0.insert(service) } }
        var initial = ProxyConfig(state: plan.state, hbonePort: settings.hbonePort)
        if let address = settings.controlPlaneAddress {
            let stateDirectory = try NodeStateDirectory(path: settings.stateDirectory)
            let credentials = try await credentials(stateDirectory: stateDirectory, controlPlane: address)
            let cache = loadCache(stateDirectory)
            if let config = cache.config {
                initial = ProxyConfig(config, hbonePort: settings.hbonePort)
                logger.info("starting from the last good config", metadata: ["version": "\(config.version)"])
            } else {
                initial = ProxyConfig(
                    state: NodeState(config: NodeConfig(version: 0, node: credentials.nodeName)),
                    trustDomain: credentials.trustDomain, hbonePort: settings.hbonePort)
            }
            let certificates = NodeCertificates(
                credentials: credentials, stateDirectory: stateDirectory, tls: tls, logger: logger)
            try await certificates.publish(trustBundlePEM: cache.config?.trustBundlePEM)
            member = (stateDirectory, certificates, cache, address)
        } else {
            member = nil
        }

        let capture = settings.captureConfiguration(for: initial.state, overrides: overrides)
        try capture.validate()
        let identities: SourceIdentityResolver?
        let discovery: LocalServiceDiscovery?
        do {
            let diagnostics = try SocketDiagnostics()
            let cgroups = try CgroupResolver()
            identities = SourceIdentityResolver(diagnostics: diagnostics, cgroups: cgroups)
            discovery = LocalServiceDiscovery(
                diagnostics: diagnostics, cgroups: cgroups,
                excludedPorts: capture.nodePorts.union(settings.adminAddresses.map(\.port)))
        } catch {
            identities = nil
            discovery = nil
            logger.warning("source identity and service discovery are off: \(error)")
        }
        let live = LiveConnections()
        let configStore = ProxyConfigStore(initial, live: live)
        let metrics = ProxyMetrics()
        var pool = HBONEConnectionPool.Configuration(socketMark: capture.socketMark)
        pool.idleTimeout = .seconds(60)
        let proxy = ProxyContext(
            config: configStore, live: live, accessLog: AccessLog.standardOutput(), metrics: metrics,
            connector: UpstreamConnector(socketMark: capture.socketMark),
            tunnels: member == nil ? nil : HBONEConnectionPool(configuration: pool, tls: tls, logger: logger))
        let loopback4 = IPAddress.v4(0x7F00_0001)
        let loopback6 = IPAddress.v6(0, 1)
        let outbound = CaptureListener(
            configuration: .init(
                direction: "outbound",
                bindAddresses: [
                    IPSocketAddress(address: loopback4, port: capture.outboundListenerPort),
                    IPSocketAddress(address: loopback6, port: capture.outboundListenerPort),
                ]),
            group: group, inspector: NodeConnectionInspector(identities: identities),
            router: OutboundRouter(), context: proxy, logger: logger)
        let inboundRouter = InboundPlaintextRouter(
            ports: settings.inboundPorts(for: initial.state, overrides: overrides))
        let inbound = CaptureListener(
            configuration: .init(
                direction: "inbound_plaintext",
                bindAddresses: [
                    IPSocketAddress(address: .v4(0), port: capture.inboundListenerPort),
                    IPSocketAddress(address: .v6(0, 0), port: capture.inboundListenerPort),
                ]),
            group: group, inspector: NodeConnectionInspector(identities: nil),
            router: inboundRouter, context: proxy, logger: logger)
        let hbone =
            member == nil
            ? nil
            : HBONEServer(
                configuration: .init(bindAddresses: [
                    IPSocketAddress(address: .v4(0), port: settings.hbonePort),
                    IPSocketAddress(address: .v6(0, 0), port: settings.hbonePort),
                ]),
                group: group, tls: tls, context: proxy, logger: logger)

        let status = Status()
        status.configVersion.withLockedValue { $0 = initial.state.config.version }
        let telemetry = NIOLockedValueBox<TelemetrySettings?>(member?.cache.config?.telemetry)
        let captureEnabled = settings.captureEnabled
        let admin = NodeAdminServer(addresses: settings.adminAddresses, group: group) { path in
            switch path {
            case "/metrics":
                return .init(status: .ok, contentType: "text/plain; version=0.0.4", body: metrics.exposition())
            case "/healthz":
                return .text("ok\n")
            case "/readyz":
                var missing: [String] = []
                if captureEnabled && !status.captureInstalled.withLockedValue({ $0 }) { missing.append("capture") }
                if let member {
                    if status.configVersion.withLockedValue({ $0 }) == 0 { missing.append("config") }
                    let local = Set(configStore.current.state.localServices.map(\.serviceName))
                    let held = await member.certificates.services
                    if tls.current == nil || !local.isSubset(of: held) { missing.append("certificates") }
                }
                return missing.isEmpty
                    ? .text("ready\n")
                    : .text("not ready: waiting for \(missing.joined(separator: ", "))\n", status: .serviceUnavailable)
            case "/config_dump":
                return .json(
                    Self.configDump(configStore.current, live: live.count, tunnels: proxy.tunnels?.connectionCount ?? 0)
                )
            case "/certs":
                let rows = await member?.certificates.summary() ?? []
                return .json(Self.json(["certificates": rows]))
            default:
                return .text("not found; try /metrics, /healthz, /readyz, /config_dump, /certs\n", status: .notFound)
            }
        }

        var resolver: DNSResolver?
        var controller: CaptureController?
        var background: [Task<Void, Never>] = []
        do {
            try await outbound.start()
            try await inbound.start()
            try await hbone?.start()
            try await admin.start()
            if settings.dnsEnabled {
                var dns = DNSResolverConfiguration(socketMark: capture.socketMark)
                dns.listenAddresses = [
                    IPSocketAddress(address: loopback4, port: capture.dnsPort),
                    IPSocketAddress(address: loopback6, port: capture.dnsPort),
                ]
                dns.upstreams =
                    settings.dnsUpstreams
                    ?? ResolvConf.load(logger: logger).upstreams(excluding: dns.listenAddresses)
                let started = try DNSResolver(configuration: dns, eventLoopGroup: group, logger: logger)
                started.update(names: initial.state.meshNames)
                try await started.start()
                resolver = started
            }
            if settings.captureEnabled {
                let installed = try CaptureController(
                    configuration: capture, connection: try NftablesConnection(), logger: logger)
                let took = try installed.install().duration
                controller = installed
                status.captureInstalled.withLockedValue { $0 = true }
                logger.info(
                    "capture installed",
                    metadata: [
                        "table": "inet \(capture.tableName)", "took": "\(took)",
                        "vips": "\(capture.vipRanges)", "outboundPorts": "\(capture.outboundPorts)",
                        "inboundPorts": "\(capture.inboundPorts)",
                    ])
                background.append(Task { await installed.reconcileContinuously() })
            }
            if let member {
                let pusher = MetricsPusher(
                    metrics: metrics, settings: telemetry, node: initial.nodeName, socketMark: capture.socketMark,
                    logger: logger)
                background.append(Task { await pusher.run() })
                let apply = ConfigApplier(
                    settings: settings, overrides: overrides, configStore: configStore, inboundRouter: inboundRouter,
                    resolver: resolver, controller: controller, certificates: member.certificates,
                    status: status.configVersion,
                    telemetry: telemetry,
                    stateDirectory: member.state, cache: member.cache, logger: logger)
                let link = ControlPlaneLink(
                    address: member.address, certificates: member.certificates, cache: member.cache,
                    socketMark: capture.socketMark,
                    registration: { [settings] in
                        Self.registration(
                            settings: settings, discovery: discovery, overrides: overrides,
                            clients: clientWorkloads.withLockedValue { $0 })
                    },
                    localServices: {
                        Set(configStore.current.state.localServices.map(\.serviceName)).union(
                            clientWorkloads.withLockedValue { $0 })
                    },
                    onConfig: { config, summary in await apply.apply(config, summary: summary) },
                    logger: logger)
                background.append(Task { await link.run() })
            }
            logger.info(
                "weft-node ready",
                metadata: [
                    "node": "\(initial.nodeName)", "configVersion": "\(initial.state.config.version)",
                    "services": "\(initial.state.config.services.count)",
                    "controlPlane": "\(settings.controlPlaneAddress.map { "\($0)" } ?? "none (static mesh)")",
                ])
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(3600))
            }
        } catch {
            logger.error("weft-node failed: \(error)")
            await stop(
                listeners: (outbound, inbound, hbone), admin: admin, resolver, controller, background, live: live,
                drain: false)
            throw error
        }
        await stop(
            listeners: (outbound, inbound, hbone), admin: admin, resolver, controller, background, live: live,
            drain: true)
    }

    private func credentials(stateDirectory: NodeStateDirectory, controlPlane: IPSocketAddress) async throws
        -> NodeCredentials
    {
        if let stored = try stateDirectory.loadCredentials() { return stored }
        guard let token = settings.joinToken else { throw Error.noCredentials(stateDirectory: stateDirectory.path) }
        let joinAddress = settings.joinAddress ?? IPSocketAddress(address: controlPlane.address, port: 15013)
        let joined: NodeCredentials
        do {
            joined = try await ControlPlaneJoin.join(address: joinAddress, token: token, nodeName: settings.nodeName)
        } catch {
            throw Error.join(error)
        }
        try stateDirectory.save(joined)
        logger.info(
            "joined the mesh", metadata: ["node": "\(joined.nodeName)", "trustDomain": "\(joined.trustDomain)"])
        return joined
    }

    private func loadCache(_ stateDirectory: NodeStateDirectory) -> ConfigCache {
        do {
            guard let stored = try stateDirectory.loadConfig() else { return ConfigCache() }
            return try ConfigCache(
                version: stored.version,
                resources: stored.resources.map { ConfigResource(name: $0.name, payload: $0.payload) })
        } catch {
            logger.error("the stored config is unusable, starting without it: \(error)")
            return ConfigCache()
        }
    }

    /// The addresses and services this node registers: discovered listeners (named by their unit or services.d) at
    /// this node's addresses, and client workloads (no endpoints). Listeners on loopback only are not reachable from
    /// other nodes: they count as workloads without endpoints.
    static func registration(
        settings: NodeSettings, discovery: LocalServiceDiscovery?, overrides: [ServiceOverride],
        clients: Set<ServiceName>
    ) -> (addresses: [IPAddress], services: [Weft_Node_V1_RegisteredService]) {
        let addresses = settings.nodeAddresses ?? LocalAddresses.all().filter { !$0.isLoopback }
        let found = discovery.flatMap { try? $0.discover(overrides: overrides).services } ?? []
        var services = found.map { service in
            var registered = Weft_Node_V1_RegisteredService()
            registered.name = ServiceName(namespace: service.namespace, name: service.name).description
            registered.protocol = service.protocol.rawValue
            registered.labels = service.labels
            var endpointAddresses: [IPAddress] = []
            for listening in service.addresses {
                if listening == .v4(0) {
                    endpointAddresses += addresses.filter(\.isIPv4)
                } else if listening == .v6(0, 0) {
                    endpointAddresses += addresses
                } else if addresses.contains(listening) {
                    endpointAddresses.append(listening)
                }
            }
            var seen = Set<IPAddress>()
            registered.endpoints = endpointAddresses.filter { seen.insert($0).inserted }.flatMap { address in
                service.ports.map { port in
                    var endpoint = Weft_Node_V1_Endpoint()
                    endpoint.address = address.description
                    endpoint.port = UInt32(port)
                    endpoint.healthy = true
                    return endpoint
                }
            }
            return registered
        }
        let listed = Set(found.map { ServiceName(namespace: $0.namespace, name: $0.name) })
        for client in clients.subtracting(listed).sorted() {
            var registered = Weft_Node_V1_RegisteredService()
            registered.name = client.description
            services.append(registered)
        }
        return (addresses, services)
    }

    private func stop(
        listeners: (outbound: CaptureListener, inbound: CaptureListener, hbone: HBONEServer?), admin: NodeAdminServer,
        _ resolver: DNSResolver?, _ controller: CaptureController?, _ background: [Task<Void, Never>],
        live: LiveConnections,
        drain: Bool
    ) async {
        // Stop accepting, let open connections finish up to the drain timeout, then close what is left.
        await listeners.outbound.shutdown()
        await listeners.inbound.shutdown()
        await listeners.hbone?.shutdown()
        if drain && live.count > 0 {
            logger.info("draining", metadata: ["connections": "\(live.count)", "timeout": "\(settings.drainTimeout)"])
            let drained = await live.drain(
                timeout: settings.drainTimeout, reason: "the node stopped (drain timeout \(settings.drainTimeout))")
            if !drained { logger.warning("drain timeout: closed the connections still open") }
        }
        for task in background { task.cancel() }
        for task in background { await task.value }
        if let controller, settings.cleanupOnExit {
            do {
                try controller.uninstall()
                logger.info("capture removed (--cleanup-on-exit)")
            } catch {
                logger.error("cannot remove the capture table: \(error)")
            }
        }
        await admin.shutdown()
        await resolver?.shutdown()
        logger.info("weft-node stopped")
    }

    static func configDump(_ config: ProxyConfig, live: Int, tunnels: Int) -> String {
        struct Dump: Encodable {
            var node: NodeConfig
            var policy: AuthorizationPolicy
            var trust_domain: String
            var open_connections: Int
            var tunnel_connections: Int
        }
        return json(
            Dump(
                node: config.state.config, policy: config.policy, trust_domain: config.trustDomain,
                open_connections: live, tunnel_connections: tunnels))
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// Puts a new config version into effect: proxy config (and with it live-connection enforcement), inbound ports,
/// DNS names, capture, trust bundle; then keeps it on disk as the last good config.
struct ConfigApplier: Sendable {
    let settings: NodeSettings
    let overrides: [ServiceOverride]
    let configStore: ProxyConfigStore
    let inboundRouter: InboundPlaintextRouter
    let resolver: DNSResolver?
    let controller: CaptureController?
    let certificates: NodeCertificates
    let status: NIOLockedValueBox<UInt64>
    let telemetry: NIOLockedValueBox<TelemetrySettings?>
    let stateDirectory: NodeStateDirectory
    let cache: ConfigCache
    let logger: Logger

    func apply(_ config: CompiledNodeConfig, summary: ConfigCache.UpdateSummary) async {
        let proxyConfig = ProxyConfig(config, hbonePort: settings.hbonePort)
        let state = proxyConfig.state
        let closed = configStore.update(proxyConfig)
        inboundRouter.update(ports: settings.inboundPorts(for: state, overrides: overrides))
        resolver?.update(names: state.meshNames)
        status.withLockedValue { $0 = config.version }
        telemetry.withLockedValue { $0 = config.telemetry }
        if let controller {
            let capture = settings.captureConfiguration(for: state, overrides: overrides)
            do {
                if try await NIOThreadPool.singleton.runIfActive({ try controller.update(capture) }) {
                    logger.info(
                        "capture updated",
                        metadata: [
                            "vips": "\(capture.vipRanges)", "outboundPorts": "\(capture.outboundPorts)",
                            "inboundPorts": "\(capture.inboundPorts)",
                        ])
                }
            } catch {
                logger.error("cannot update the capture for config \(config.version): \(error)")
            }
        }
        do { try await certificates.publish(trustBundlePEM: config.trustBundlePEM) } catch {
            logger.error("the trust bundle of config \(config.version) is unusable: \(error)")
        }
        do { try stateDirectory.saveConfig(version: config.version, resources: cache.resources) } catch {
            logger.error("\(error)")
        }
        logger.info(
            "config applied",
            metadata: [
                "version": "\(config.version)", "changed": "\(summary.changed.count)",
                "removed": "\(summary.removed.count)",
                "closedConnections": "\(closed)",
            ])
    }
}

extension ProxyConfig {
    /// What the proxy decides with under a config version the control plane pushed.
    init(_ config: CompiledNodeConfig, hbonePort: UInt16) {
        self.init(
            state: NodeState(config: config.nodeConfig), policy: config.policy, trustDomain: config.trustDomain,
            hbonePort: hbonePort)
    }
}
