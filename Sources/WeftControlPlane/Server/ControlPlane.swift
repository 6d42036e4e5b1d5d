import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import WeftCore
import WeftIdentity
import WeftSystemd

/// weftd: opens the store, finds or makes the CA, and serves the node API, the admin API and the config stream
/// until cancelled.
public enum ControlPlane {
    /// Where weftd listens once it is up, and the files it wrote.
    public struct Ready: Sendable, Equatable {
        public var nodeListener: IPSocketAddress
        public var joinListener: IPSocketAddress
        public var adminListener: IPSocketAddress
        public var adminTLS: Bool
        /// Set when this start created the bootstrap admin token.
        public var bootstrapTokenFile: String?
        public var trustBundleFile: String
        public var trustDomain: String
    }

    /// Runs weftd until cancelled, or (with `stopOnSignals`, as the binary runs) until SIGTERM or SIGINT asks it to
    /// stop in order. `onReady` hears where it listens once both APIs are bound; `notifier` (under systemd) hears
    /// READY, STOPPING and the watchdog.
    public static func run(
        configuration: ControlPlaneConfiguration, logger: Logger, stopOnSignals: Bool = false,
        notifier: SystemdNotifier? = nil, onReady: @escaping @Sendable (Ready) -> Void
    ) async throws {
        try configuration.validate()
        try FileManager.default.createDirectory(
            atPath: configuration.dataDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let store: any Store
        if let url = configuration.postgresURL {
            store = try PostgresStore(url: url, logger: logger)
        } else {
            store = try SQLiteStore(path: configuration.sqlitePath)
        }
        let services: [any Service]
        do {
            services = try await self.services(
                configuration: configuration, store: store, logger: logger, notifier: notifier, onReady: onReady)
        } catch {
            await store.close()
            throw error
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: stopOnSignals ? [.sigterm, .sigint] : [],
                logger: logger))
        let watchdog = notifier?.startWatchdog(on: MultiThreadedEventLoopGroup.singleton.next())
        defer { watchdog?.cancel() }
        try await group.run()
    }

    /// weftd's parts in start order (they stop in the reverse): the store (opened and migrated here, closed last),
    /// the config distributor, the store's pruning, the node API with its join listener, the admin API, and the
    /// ready announcement. The CA is found or made here, before anything listens.
    static func services(
        configuration: ControlPlaneConfiguration, store: any Store, logger: Logger, notifier: SystemdNotifier? = nil,
        onReady: @escaping @Sendable (Ready) -> Void
    ) async throws -> [any Service] {
        try await store.migrate()
        let trustDomain = configuration.registry.trustDomain
        let authority = try await AuthorityLoader.load(
            trustDomain: trustDomain, files: configuration.authorityFiles, keyFile: configuration.caKeyFile,
            store: store)
        guard
            FileManager.default.createFile(
                atPath: configuration.trustBundlePath, contents: Data(authority.trustBundlePEM.utf8),
                attributes: [.posixPermissions: 0o644]
            )
        else {
            throw ControlPlaneConfiguration.Error(message: "cannot write \(configuration.trustBundlePath)")
        }
        let registry = Registry(store: store, authority: authority, configuration: configuration.registry)
        let createdBootstrap = try await registry.ensureBootstrapToken(file: configuration.bootstrapTokenPath)
        if createdBootstrap {
            logger.notice("bootstrap admin token written", metadata: ["file": "\(configuration.bootstrapTokenPath)"])
        }
        let server = try serverCertificate(authority: authority, configuration: configuration)
        let distributor = ConfigDistributor(registry: registry, logger: logger)
        let readiness = Readiness<ControlPlaneReadinessName>()
        let nodeAPI = NodeAPIListenersService(
            server: NodeAPIServer(
                service: NodeAPIService(registry: registry, distributor: distributor, logger: logger),
                nodeAddress: configuration.nodeListen, joinAddress: configuration.joinListen,
                certificateChainPEM: server.certificateChainPEM, privateKeyPEM: server.privateKeyPEM,
                trustBundlePEM: authority.trustBundlePEM
            ),
            bound: readiness.register(.nodeAPI))
        let admin = AdminServer(
            configuration: AdminServerConfiguration(
                host: configuration.adminListen.address.description, port: Int(configuration.adminListen.port),
                tls: configuration.adminPlaintext
                    ? nil : .init(certificateChainPEM: server.certificateChainPEM, privateKeyPEM: server.privateKeyPEM),
                allowPlaintextOnLoopback: configuration.adminPlaintext
            ),
            api: AdminAPI(registry: registry, nodeStatus: distributor), logger: logger
        )
        return [
            StoreService(store: store),
            ConfigDistributorService(distributor: distributor, heartbeatInterval: configuration.heartbeatInterval),
            RetentionService(
                retention: Retention(registry: registry, auditRetention: configuration.auditRetention), logger: logger),
            nodeAPI,
            AdminAPIService(server: admin, bound: readiness.register(.adminAPI)),
            ControlPlaneReadyAnnouncement(
                readiness: readiness,
                ready: {
                    let port = try await admin.listeningPort()
                    let listeners = nodeAPI.listeners!
                    return Ready(
                        nodeListener: listeners.node, joinListener: listeners.join,
                        adminListener: IPSocketAddress(address: configuration.adminListen.address, port: UInt16(port)),
                        adminTLS: !configuration.adminPlaintext,
                        bootstrapTokenFile: createdBootstrap ? configuration.bootstrapTokenPath : nil,
                        trustBundleFile: configuration.trustBundlePath, trustDomain: trustDomain)
                },
                notifier: notifier, logger: logger, onReady: onReady),
        ]
    }

    /// weftd's TLS certificate for both APIs, made fresh at every start (so it never outlives a restart by much):
    /// every local address and the configured names.
    static func serverCertificate(authority: CertificateAuthority, configuration: ControlPlaneConfiguration) throws
        -> (certificateChainPEM: String, privateKeyPEM: String)
    {
        var names = ["localhost"]
        var addresses = LocalAddresses.all() + [.v4(0x7F00_0001), .v6(0, 1)]
        let host = ProcessInfo.processInfo.hostName
        if !host.isEmpty, DNSLabel.isValid(host.split(separator: ".").first.map(String.init) ?? "") {
            names.append(host)
        }
        for name in configuration.serverNames {
            if let address = IPAddress(name) { addresses.append(address) } else { names.append(name) }
        }
        return try authority.issueServerCertificate(
            dnsNames: Array(Set(names)).sorted(),
            ipAddresses: Array(Set(addresses)).sorted { $0.description < $1.description },
            ttl: .seconds(365 * 86400)
        )
    }
}
