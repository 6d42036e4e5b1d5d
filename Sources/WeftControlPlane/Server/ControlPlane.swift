import Foundation
import Logging
import Synchronization
import WeftCore
import WeftIdentity

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

    public static func run(
        configuration: ControlPlaneConfiguration, logger: Logger, onReady: @escaping @Sendable (Ready) -> Void
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
        do {
            try await serve(configuration: configuration, store: store, logger: logger, onReady: onReady)
            await store.close()
        } catch {
            await store.close()
            throw error
        }
    }

    static func serve(
        configuration: ControlPlaneConfiguration, store: any Store, logger: Logger,
        onReady: @escaping @Sendable (Ready) -> Void
    ) async throws {
        try await store.migrate()
        let trustDomain = configuration.registry.trustDomain
        let authority = try await AuthorityLoader.load(
            trustDomain: trustDomain, files: configuration.authorityFiles, store: store)
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
        let service = NodeAPIService(registry: registry, distributor: distributor, logger: logger)
        let nodeAPI = NodeAPIServer(
            service: service, nodeAddress: configuration.nodeListen, joinAddress: configuration.joinListen,
            certificateChainPEM: server.certificateChainPEM, privateKeyPEM: server.privateKeyPEM,
            trustBundlePEM: authority.trustBundlePEM
        )
        let admin = AdminServer(
            configuration: AdminServerConfiguration(
                host: configuration.adminListen.address.description, port: Int(configuration.adminListen.port),
                tls: configuration.adminPlaintext
                    ? nil : .init(certificateChainPEM: server.certificateChainPEM, privateKeyPEM: server.privateKeyPEM),
                allowPlaintextOnLoopback: configuration.adminPlaintext
            ),
            api: AdminAPI(registry: registry, nodeStatus: distributor), logger: logger
        )
        let listeners = ListenerRendezvous()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await distributor.run(heartbeatInterval: configuration.heartbeatInterval) }
            group.addTask {
                try await nodeAPI.run { bound in
                    if let ready = listeners.setNode(bound) {
                        onReady(Self.ready(ready, configuration, createdBootstrap, trustDomain))
                    }
                }
            }
            group.addTask { try await admin.run() }
            group.addTask {
                let port = try await admin.listeningPort()
                let bound = IPSocketAddress(address: configuration.adminListen.address, port: UInt16(port))
                if let ready = listeners.setAdmin(bound) {
                    onReady(Self.ready(ready, configuration, createdBootstrap, trustDomain))
                }
            }
            // The rendezvous task ends normally; any other task ending means weftd stops.
            try await group.next()
            try await group.next()
            group.cancelAll()
        }
    }

    static func ready(
        _ bound: (node: NodeAPIServer.Listeners, admin: IPSocketAddress), _ configuration: ControlPlaneConfiguration,
        _ createdBootstrap: Bool, _ trustDomain: String
    ) -> Ready {
        Ready(
            nodeListener: bound.node.node, joinListener: bound.node.join, adminListener: bound.admin,
            adminTLS: !configuration.adminPlaintext,
            bootstrapTokenFile: createdBootstrap ? configuration.bootstrapTokenPath : nil,
            trustBundleFile: configuration.trustBundlePath, trustDomain: trustDomain
        )
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

/// Collects the node API's and the admin API's bound addresses, which arrive from two tasks.
final class ListenerRendezvous: Sendable {
    private let state = Mutex<(node: NodeAPIServer.Listeners?, admin: IPSocketAddress?)>((nil, nil))

    func setNode(_ listeners: NodeAPIServer.Listeners) -> (node: NodeAPIServer.Listeners, admin: IPSocketAddress)? {
        state.withLock { state in
            state.node = listeners
            return state.admin.map { (listeners, $0) }
        }
    }

    func setAdmin(_ address: IPSocketAddress) -> (node: NodeAPIServer.Listeners, admin: IPSocketAddress)? {
        state.withLock { state in
            state.admin = address
            return state.node.map { ($0, address) }
        }
    }
}
