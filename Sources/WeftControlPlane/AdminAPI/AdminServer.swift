import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization
import WeftCore
import WeftIdentity

/// How the admin API listens. TLS is the default; plaintext is possible only on a loopback address and only when
/// `allowPlaintextOnLoopback` says so.
public struct AdminServerConfiguration: Sendable {
    /// The server's certificate chain (leaf first) and its private key, PEM.
    public struct TLSCredentials: Sendable {
        public var certificateChainPEM: String
        public var privateKeyPEM: String

        public init(certificateChainPEM: String, privateKeyPEM: String) {
            self.certificateChainPEM = certificateChainPEM
            self.privateKeyPEM = privateKeyPEM
        }

        /// A server certificate issued by the mesh CA for `dnsNames` and `ipAddresses`; clients trust it through
        /// the trust bundle.
        public static func issued(
            by authority: CertificateAuthority, dnsNames: [String] = ["localhost"],
            ipAddresses: [IPAddress] = [IPAddress("127.0.0.1")!], ttl: Duration = .seconds(90 * 86_400)
        ) throws -> TLSCredentials {
            let issued = try authority.issueServerCertificate(dnsNames: dnsNames, ipAddresses: ipAddresses, ttl: ttl)
            return TLSCredentials(certificateChainPEM: issued.certificateChainPEM, privateKeyPEM: issued.privateKeyPEM)
        }
    }

    public static let defaultPort = Int(WeftPort.adminAPI.rawValue)

    /// An IP address to bind, or `localhost`.
    public var host: String
    /// 0 picks a free port (see ``AdminServer/listeningPort()``).
    public var port: Int
    /// Nil serves plaintext, which ``validate()`` allows only on loopback with ``allowPlaintextOnLoopback``.
    public var tls: TLSCredentials?
    public var allowPlaintextOnLoopback: Bool
    /// Connections idle this long are closed.
    public var idleTimeout: Duration

    public init(
        host: String = "0.0.0.0", port: Int = AdminServerConfiguration.defaultPort, tls: TLSCredentials? = nil,
        allowPlaintextOnLoopback: Bool = false, idleTimeout: Duration = .seconds(60)
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.allowPlaintextOnLoopback = allowPlaintextOnLoopback
        self.idleTimeout = idleTimeout
    }

    /// True for 127.0.0.0/8, ::1 and `localhost`.
    public var isLoopback: Bool {
        if host == "localhost" { return true }
        guard let address = IPAddress(host) else { return false }
        return address.isIPv4 ? address.bytes[0] == 127 : address == IPAddress("::1")!
    }

    /// Throws the first setting that cannot work, saying what to change.
    public func validate() throws(AdminServerConfigurationError) {
        guard host == "localhost" || IPAddress(host) != nil else {
            throw AdminServerConfigurationError("admin API address '\(host)' is not an IP address (or localhost)")
        }
        guard (0...65535).contains(port) else {
            throw AdminServerConfigurationError("admin API port \(port) is not 0-65535")
        }
        if let tls {
            _ = try tls.serverConfiguration()
            return
        }
        guard isLoopback else {
            throw AdminServerConfigurationError(
                "the admin API on \(host) needs TLS: give it a certificate and key; plaintext is allowed only on a "
                    + "loopback address (127.0.0.1, ::1) together with the explicit plaintext-on-loopback flag"
            )
        }
        guard allowPlaintextOnLoopback else {
            throw AdminServerConfigurationError(
                "the admin API has no TLS certificate: give it one, or set the plaintext-on-loopback flag to serve "
                    + "plaintext on \(host)"
            )
        }
    }
}

public struct AdminServerConfigurationError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension AdminServerConfiguration.TLSCredentials {
    /// TLS 1.2 or newer with the given chain and key.
    func serverConfiguration() throws(AdminServerConfigurationError) -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMBytes(Array(certificateChainPEM.utf8)) } catch {
            throw AdminServerConfigurationError("the admin API certificate chain is not valid PEM: \(error)")
        }
        guard !chain.isEmpty else { throw AdminServerConfigurationError("the admin API certificate chain is empty") }
        do { key = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem) } catch {
            throw AdminServerConfigurationError("the admin API private key is not valid PEM: \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)
        )
        configuration.minimumTLSVersion = .tlsv12
        // How long a closing connection waits for the client's close_notify. A client that stops reading after a
        // refused upload never sends one; do not keep its connection (and a graceful shutdown) waiting long.
        configuration.shutdownTimeout = .seconds(1)
        return configuration
    }
}

/// Serves the admin API until the task running ``run()`` is cancelled.
public final class AdminServer: Sendable {
    public let configuration: AdminServerConfiguration
    public let api: AdminAPI
    let logger: Logger
    private let state = Mutex(ListeningState())

    private struct ListeningState {
        var port: Int?
        var failure: (any Error)?
        var waiters: [CheckedContinuation<Int, any Error>] = []
    }

    public init(
        configuration: AdminServerConfiguration, api: AdminAPI, logger: Logger = Logger(label: "weft.admin-api")
    ) {
        self.configuration = configuration
        self.api = api
        self.logger = logger
    }

    /// Validates the configuration, binds, and serves until cancelled. Throws when it cannot start.
    public func run() async throws {
        do {
            try configuration.validate()
            let idleTimeout = TimeAmount.seconds(configuration.idleTimeout.components.seconds)
            let settings = ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: nil
            )
            let onServerRunning: @Sendable (any Channel) async -> Void = { [self] channel in
                listening(on: channel.localAddress?.port ?? configuration.port)
            }
            let application =
                if let tls = configuration.tls {
                    Application(
                        router: api.buildRouter(),
                        server: try .tls(
                            .http1(configuration: .init(idleTimeout: idleTimeout)),
                            tlsConfiguration: tls.serverConfiguration()),
                        configuration: settings, onServerRunning: onServerRunning, logger: logger
                    )
                } else {
                    Application(
                        router: api.buildRouter(), server: .http1(configuration: .init(idleTimeout: idleTimeout)),
                        configuration: settings, onServerRunning: onServerRunning, logger: logger
                    )
                }
            // Cancellation shuts the server down gracefully (no new connections, requests in progress finish,
            // idle connections close) instead of tearing connections down mid-request: the group runs in its own
            // task so that the cancellation of this one reaches it only as a graceful shutdown.
            var groupConfiguration = ServiceGroupConfiguration(services: [.init(service: application)], logger: logger)
            groupConfiguration.maximumGracefulShutdownDuration = .seconds(10)
            let group = ServiceGroup(configuration: groupConfiguration)
            let serving = Task { try await group.run() }
            try await withTaskCancellationHandler {
                try await serving.value
            } onCancel: {
                Task { await group.triggerGracefulShutdown() }
            }
            finish(with: CancellationError())
        } catch {
            finish(with: error)
            throw error
        }
    }

    /// The bound port, once the server listens (useful with port 0). Throws if the server failed to start or
    /// has stopped.
    public func listeningPort() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Int, any Error>? = state.withLock { state in
                if let port = state.port { return .success(port) }
                if let failure = state.failure { return .failure(failure) }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    private func listening(on port: Int) {
        let waiters = state.withLock { state in
            state.port = port
            defer { state.waiters = [] }
            return state.waiters
        }
        logger.info(
            "admin API listening on \(configuration.host):\(port) (\(configuration.tls == nil ? "plaintext" : "TLS"))")
        for waiter in waiters { waiter.resume(returning: port) }
    }

    private func finish(with error: any Error) {
        let waiters = state.withLock { state in
            state.port = nil
            state.failure = error
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(throwing: error) }
    }
}
