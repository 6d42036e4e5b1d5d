import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import WeftCapture
import WeftCore
import WeftProxy
import WeftSystemd

/// The node agent: takes its place in the mesh (joining if needed), then runs its parts as one service group —
/// admin endpoint, capture, DNS, proxy listeners, control-plane link, certificate refresh, metrics push — until
/// SIGTERM or SIGINT. Parts start in that order (the capture waits until the listeners it redirects to are bound)
/// and stop in the reverse: the proxy stops accepting and drains, then the capture is removed when asked.
public final class NodeAgent: Sendable {
    public let settings: NodeSettings
    private let logger: Logger
    /// Under systemd (`Type=notify`): hears READY, STATUS, STOPPING and the watchdog.
    private let notifier: SystemdNotifier?

    public init(
        settings: NodeSettings, logger: Logger = Logger(label: "weft.node"),
        notifier: SystemdNotifier? = SystemdNotifier.fromEnvironment()
    ) {
        self.settings = settings
        self.logger = logger
        self.notifier = notifier
    }

    /// Runs until SIGTERM/SIGINT, then stops in order. Fails before touching the capture when a listener cannot
    /// bind, the config is invalid or the node cannot join.
    public func run() async throws {
        let services = try await services()
        // Signals are the lifecycle service's: it decides how the node stops, then the group stops in reverse order.
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        // Pinged from an event loop: if the loops stall, systemd (WatchdogSec=) restarts the node.
        let watchdog = notifier?.startWatchdog(on: MultiThreadedEventLoopGroup.singleton.next())
        defer { watchdog?.cancel() }
        do {
            try await group.run()
        } catch {
            logger.error("weft-node failed: \(error)")
            throw error
        }
        logger.info("weft-node stopped")
    }

    /// The node's parts, wired together, in start order.
    func services() async throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let plan = try settings.loadPlan()
        if !IPStack.hasIPv6 {
            logger.notice("IPv6 is off on this host: the node listens and captures on IPv4 only")
        }
        for error in plan.fileErrors { logger.error("services.d: \(error)") }
        try plan.capture.validate()
        let readiness = NodeReadiness()

        // Mesh membership (a static mesh has none): credentials, the last good config, certificates.
        // Local processes that called out before their service had a certificate (clients listen on nothing, so
        // discovery cannot know them) are registered as workloads of this node, certificates obtained for them.
        let clientWorkloads = NIOLockedValueBox<Set<ServiceName>>([])
        let tls = MeshTLSStore { service in clientWorkloads.withLockedValue { _ = $0.insert(service) } }
        let member: NodeMembership? =
            if let address = settings.controlPlaneAddress {
                try await NodeMembership.establish(settings: settings, controlPlane: address, tls: tls, logger: logger)
            } else {
                nil
            }
        if let member {
            // Services this node held certificates for stay its workloads across a restart (a client is known only
            // once it has called out), so the first registration does not withdraw them.
            let held = await member.certificates.services
            clientWorkloads.withLockedValue { $0.formUnion(held) }
        }
        let initial =
            member?.initialConfig(hbonePort: settings.hbonePort, logger: logger)
            ?? ProxyConfig(state: plan.state, hbonePort: settings.hbonePort)
        let capture = settings.captureConfiguration(for: initial.state, overrides: plan.overrides)
        try capture.validate()

        // Every listening socket; after a hitless restart, the predecessor's (taken over last, below).
        let sockets = ListenSocketTable()
        let stop = NodeStop()

        // Who is calling (cgroup → service) and what listens here.
        let callers: NodeConnectionInspector.Callers
        let discovery: LocalServiceDiscovery?
        do {
            let diagnostics = try SocketDiagnostics()
            let cgroups = try CgroupResolver()
            let rules = CgroupIdentityRules(trustedSlices: settings.identitySlices)
            callers = .local(
                SourceIdentityResolver(
                    diagnostics: diagnostics, cgroups: cgroups, rules: rules, overrides: plan.overrides))
            discovery = LocalServiceDiscovery(
                diagnostics: diagnostics, cgroups: cgroups, rules: rules,
                excludedPorts: capture.nodePorts.union(settings.adminAddresses.map(\.port)))
        } catch {
            callers = .unresolvable(reason: "this node cannot look callers up: \(error)")
            discovery = nil
            logger.error(
                "source identity and service discovery are off: local callers are refused every mesh service: \(error)")
        }

        // The proxy: its shared runtime and its three listeners.
        let group = MultiThreadedEventLoopGroup.singleton
        let live = LiveConnections()
        let configStore = ProxyConfigStore(initial, live: live)
        let metrics = ProxyMetrics()
        var pool = HBONEConnectionPool.Configuration(socketMark: capture.socketMark)
        pool.idleTimeout = .seconds(60)
        let proxy = ProxyRuntime(
            config: configStore, live: live, accessLog: AccessLog.standardOutput { metrics.accessLogLineDropped() },
            metrics: metrics,
            connector: UpstreamConnector(socketMark: capture.socketMark),
            tunnels: member == nil ? nil : HBONEConnectionPool(configuration: pool, tls: tls, logger: logger))
        let outbound = CaptureListener(
            configuration: .init(role: .outbound, bindAddresses: .loopback(port: capture.outboundListenerPort)),
            group: group, inspector: NodeConnectionInspector(callers: callers),
            router: OutboundRouter(), runtime: proxy, logger: logger, sockets: sockets)
        let inboundRouter = InboundPlaintextRouter(
            ports: settings.inboundPorts(for: initial.state, overrides: plan.overrides))
        let inboundPlaintext = CaptureListener(
            configuration: .init(
                role: .inboundPlaintext, bindAddresses: .anyAddress(port: capture.inboundListenerPort)),
            group: group, inspector: NodeConnectionInspector(callers: .remote),
            router: inboundRouter, runtime: proxy, logger: logger, sockets: sockets)
        let hbone = member.map { _ in
            HBONEServer(
                configuration: .init(bindAddresses: .anyAddress(port: settings.hbonePort)),
                group: group, tls: tls, runtime: proxy, logger: logger, sockets: sockets)
        }

        // DNS for mesh names, the capture, the admin endpoint.
        let resolver =
            settings.dnsEnabled
            ? try dnsResolver(capture: capture, initial: initial, group: group, sockets: sockets) : nil
        let captureService =
            settings.captureEnabled
            ? CaptureService(
                configuration: capture, readiness: readiness, failClosed: settings.failClosed, stop: stop,
                logger: logger)
            : nil
        let admin = NodeAdminServer(addresses: settings.adminAddresses, group: group, sockets: sockets) { path in
            await NodeAdminEndpoints(
                metrics: metrics, readiness: readiness, configStore: configStore, live: live,
                tunnels: proxy.tunnels, certificates: member?.certificates
            ).respond(to: path)
        }

        var services: [any Service] = [NodeAdminService(server: admin)]
        if let captureService { services.append(captureService) }
        if let resolver { services.append(DNSService(resolver: resolver, bound: readiness.register(.listeners))) }
        services.append(
            ProxyListenersService(
                outbound: outbound, inboundPlaintext: inboundPlaintext, hbone: hbone, live: live,
                drainTimeout: settings.drainTimeout, bound: readiness.register(.listeners), logger: logger))
        if let member {
            // Following the control plane: registration, config, certificates, metrics push.
            let received = readiness.register(.config)
            received.set(ready: initial.state.config.version != 0)
            let telemetry = NIOLockedValueBox<TelemetrySettings?>(member.cache.config?.telemetry)
            let registration = LocalRegistration(settings: settings, discovery: discovery, overrides: plan.overrides)
            let localServices: @Sendable () -> Set<ServiceName> = {
                Set(configStore.current.state.localServices.map(\.serviceName))
                    .union(clientWorkloads.withLockedValue { $0 })
            }
            let apply = ConfigApplier(
                settings: settings, overrides: plan.overrides, configStore: configStore, inboundRouter: inboundRouter,
                resolver: resolver, capture: captureService, certificates: member.certificates,
                revocations: tls.revocations, received: received, telemetry: telemetry,
                stateDirectory: member.stateDirectory, cache: member.cache, logger: logger)
            let session = CurrentSession()
            let certificateRefresh = CertificateRefreshService(
                certificates: member.certificates, session: session, tls: tls, localServices: localServices,
                held: readiness.register(.certificates),
                expiry: CertificateExpiryMetric(registry: metrics.registry))
            let link = ControlPlaneLink(
                address: member.controlPlane, certificates: member.certificates, cache: member.cache,
                socketMark: capture.socketMark, session: session,
                registration: { try registration.current(clients: clientWorkloads.withLockedValue { $0 }) },
                onConfig: { config, summary in
                    let outcome = await apply.apply(config, summary: summary)
                    certificateRefresh.requestRefresh()
                    return outcome
                },
                logger: logger)
            services.append(ControlPlaneLinkService(link: link))
            services.append(certificateRefresh)
            services.append(
                MetricsPushService(
                    pusher: MetricsPusher(
                        metrics: metrics, settings: telemetry, node: initial.nodeName, socketMark: capture.socketMark,
                        destinations: PushDestinationPolicy(excluded: settings.capture.excludedCIDRs),
                        state: { configStore.current.state }, credentials: settings.metricsPushCredentials,
                        logger: logger)))
        }
        services.append(
            ReadyAnnouncement(
                readiness: readiness, notifier: notifier, logger: logger,
                metadata: [
                    "node": "\(initial.nodeName)", "configVersion": "\(initial.state.config.version)",
                    "services": "\(initial.state.config.services.count)",
                    "controlPlane": "\(settings.controlPlaneAddress.map { "\($0)" } ?? "none (static mesh)")",
                ]))
        services.append(
            HandOverService(
                path: settings.handOverSocketPath, sockets: sockets, readiness: readiness, stop: stop, live: live,
                logger: logger))
        let lifecycle = NodeLifecycleService(
            stop: stop, handOverWait: settings.handOverWait, notifier: notifier, logger: logger
        ) { [notifier] reason in
            // What must close before the rest stops in reverse order: nothing more is offered to a successor; the
            // capture stops first (new connections flow unmeshed, not refused; the table goes once the node has
            // drained) unless it is kept; the proxy stops accepting; after a hand-over the successor owns every
            // port, DNS and admin included.
            sockets.seal()
            if reason.keepsCapture {
                notifier?.silence()
                await captureService?.stopReconciling()
            } else {
                await captureService?.stopCapturing()
            }
            await outbound.stopAccepting()
            await inboundPlaintext.stopAccepting()
            await hbone?.stopAccepting()
            if reason.keepsCapture {
                await resolver?.shutdown()
                await admin.shutdown()
            }
        }
        // Last, once everything is built and valid: from here on the predecessor accepts nothing.
        if let predecessor = await takeOverFromPredecessor() { sockets.inherit(predecessor.sockets) }
        return services.map { .init(service: $0) }
            + [.init(service: lifecycle, successTerminationBehavior: .gracefullyShutdownGroup)]
    }

    /// The predecessor's sockets, once it stopped accepting on them; nil when none runs, or the hand-over failed
    /// (this process binds afresh). Called once everything this process needs to serve is loaded and valid: from
    /// here on the predecessor accepts nothing, and connections wait in the sockets' backlog until this one starts.
    private func takeOverFromPredecessor() async -> Predecessor? {
        let path = settings.handOverSocketPath
        let predecessor: Predecessor
        do {
            _ = try NodeStateDirectory(path: settings.stateDirectory)
            guard let found = try await NIOThreadPool.singleton.runIfActive({ try Predecessor.takeOver(path: path) })
            else { return nil }
            predecessor = found
        } catch {
            logger.warning("no hand-over from a previous process: binding afresh", metadata: ["error": "\(error)"])
            return nil
        }
        let sockets = predecessor.sockets.keys.map(\.description).sorted()
        do {
            let draining = try await NIOThreadPool.singleton.runIfActive { try predecessor.takeOverNow() }
            logger.info(
                "took over from the previous process: it stopped accepting and drains",
                metadata: ["pid": "\(predecessor.pid)", "connections": "\(draining)", "sockets": "\(sockets)"])
        } catch {
            logger.error(
                "the previous process did not confirm the hand-over: both may accept until it stops",
                metadata: ["pid": "\(predecessor.pid)", "error": "\(error)"])
        }
        return predecessor
    }

    private func dnsResolver(
        capture: CaptureConfiguration, initial: ProxyConfig, group: any EventLoopGroup, sockets: ListenSocketTable
    ) throws -> DNSResolver {
        var dns = DNSResolverConfiguration(socketMark: capture.socketMark)
        dns.listenAddresses = .loopback(port: capture.dnsPort)
        dns.upstreams =
            settings.dnsUpstreams ?? ResolvConf.load(logger: logger).upstreams(excluding: dns.listenAddresses)
        let resolver = try DNSResolver(configuration: dns, eventLoopGroup: group, logger: logger, sockets: sockets)
        resolver.update(names: initial.state.meshNames)
        return resolver
    }
}
