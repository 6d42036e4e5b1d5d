import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL
import WeftCore

/// The HBONE inbound listener (port 15008): mTLS with the node's certificate, the caller's X509-SVID verified
/// against the trust bundle; each HTTP/2 CONNECT stream asks for one endpoint on this node, is authorized against
/// the destination service's intentions with the caller's identity (`HBONEInboundRouter`), and is relayed to the
/// workload (`HBONEInboundStreamHandler`).
///
/// Answers: 200 and the relay; 400/405 for what is no HBONE CONNECT; 404 when the `:authority` is not an endpoint
/// of this node (never an open proxy); 403 when policy denies; 503 when the workload does not accept. The reason
/// is in the `x-weft-reason` header and the access log.
public final class HBONEServer: Sendable {
    public struct Configuration: Sendable {
        public var bindAddresses: [IPSocketAddress]
        public var backlog: Int32 = 1024
        public var maxConcurrentStreams = 1000
        public var streamWindow = 4 << 20
        public var connectionWindow = 16 << 20
        /// A connection whose TLS handshake has not ended by then is closed.
        public var handshakeTimeout: TimeAmount = .seconds(10)
        /// A connection without streams for this long is closed (longer than the clients' pool idle timeout, so
        /// they close first).
        public var idleTimeout: TimeAmount = .minutes(5)
        /// Connections held at once, in total and from one source address; more are closed at accept.
        public var maxConnections = 16_384
        public var maxConnectionsPerSource = 1_024
        /// Connections held at once by one peer identity; more are closed once their handshake names it.
        public var maxConnectionsPerIdentity = 2_048

        public init(bindAddresses: [IPSocketAddress]) {
            self.bindAddresses = bindAddresses
        }
    }

    private let configuration: Configuration
    private let group: any EventLoopGroup
    private let tls: MeshTLSStore
    private let runtime: ProxyRuntime
    private let logger: Logger
    private let sockets: ListeningSockets
    /// Accepted connections, to be told GOAWAY on shutdown.
    private let connections = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    /// Set on shutdown: a connection accepted before it but set up after it is told GOAWAY at once.
    private let quiescing = NIOLockedValueBox(false)
    private let limiter: ConnectionLimiter

    public init(
        configuration: Configuration, group: any EventLoopGroup, tls: MeshTLSStore, runtime: ProxyRuntime,
        logger: Logger, sockets: ListenSocketTable = ListenSocketTable()
    ) {
        self.sockets = ListeningSockets(table: sockets, live: runtime.live)
        self.configuration = configuration
        self.group = group
        self.tls = tls
        self.runtime = runtime
        self.logger = logger
        limiter = ConnectionLimiter(
            maxTotal: configuration.maxConnections, maxPerSource: configuration.maxConnectionsPerSource,
            maxPerIdentity: configuration.maxConnectionsPerIdentity)
    }

    /// Binds every configured address; returns the bound addresses.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        let bound = try await sockets.bind(configuration.bindAddresses, group: group, backlog: configuration.backlog) {
            bootstrap in
            var bootstrap = bootstrap.childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            for (option, value) in HBONEHTTP2.deadPeerDetection {
                bootstrap = bootstrap.childChannelOption(option, value: value)
            }
            return bootstrap.childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try initialize(channel) }
            }
        }
        logger.info("listening", metadata: ["direction": "hbone", "addresses": "\(bound)"])
        return bound
    }

    /// Stops accepting, and tells every connected peer GOAWAY (gracefully: its streams in flight are still taken,
    /// then it opens new ones elsewhere, e.g. on the successor that took the listener over); open tunnels continue
    /// until they end, and each connection closes after its last one.
    public func shutdown() async {
        await stopAccepting()
        await sockets.close()
    }

    /// Stops accepting, the sockets still open (connections just accepted finish their setup), and tells every
    /// connected peer GOAWAY; `shutdown` closes the sockets.
    public func stopAccepting() async {
        await sockets.pause()
        let open = connections.withLockedValue { connections in
            quiescing.withLockedValue { $0 = true }
            return Array(connections.values)
        }
        for channel in open { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
    }

    /// An accepted connection's pipeline: mTLS with the node certificate, HTTP/2, one HBONE stream handler per stream.
    func initialize(_ channel: any Channel) throws {
        let source = channel.remoteAddress.flatMap(IPSocketAddress.init(nio:))
        let client = source?.description ?? "?"
        guard let tls = tls.current else {
            logger.warning(
                "HBONE connection refused: this node has no certificates yet", metadata: ["client": "\(client)"])
            throw MeshTLSError.notReady
        }
        let runtime = self.runtime
        @Sendable func refused(_ reason: String) {
            let labels = ProxyMetrics.Labels(reporter: .destination, source: nil, destination: nil)
            ConnectionRecord(role: .inbound, client: client, destination: "-", labels: labels)
                .notRelayed(.refused, reason: reason, runtime: runtime)
        }
        if let address = source?.address {
            do {
                try limiter.acquire(address)
            } catch {
                refused(error.description)
                throw error
            }
            channel.closeFuture.whenComplete { [limiter] _ in limiter.release(address) }
        }
        let peer = PeerIdentity()
        let verification = tls.verification(expecting: nil) { [limiter] outcome in
            switch outcome {
            case .success(let verified):
                do throws(ConnectionLimiter.Refusal) {
                    try limiter.acquire(verified.identity)
                } catch {
                    refused(error.description)
                    channel.close(promise: nil)
                    return
                }
                channel.closeFuture.whenComplete { [limiter] _ in limiter.release(verified.identity) }
                peer.identity.withLockedValue { $0 = verified.identity }
                tls.revocations.track(channel, serial: verified.serial)
            case .failure(let rejection):
                refused("mTLS: \(rejection.reason)")
            }
        }
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(NIOSSLServerHandler(context: tls.serverContext, customVerificationCallback: verification))
        try sync.addHandler(FlushCoalescer())
        let http2 = HBONEHTTP2.configurations(
            maxConcurrentStreams: configuration.maxConcurrentStreams, streamWindow: configuration.streamWindow,
            connectionWindow: configuration.connectionWindow)
        // Graceful GOAWAY (RFC 9113 §6.8: the maximum stream id and a PING, then the last one) when told to quiesce;
        // it counts the open streams through the stream delegate and closes the connection after the last.
        let management = NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: channel.eventLoop,
            configuration: .init(maxIdleTime: nil, maxAge: nil, maxGraceTime: nil, keepalive: nil))
        _ = try sync.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: http2.connection, streamConfiguration: http2.stream,
            streamDelegate: management.http2StreamDelegate
        ) { stream in
            runtime.live.admit(until: stream.closeFuture)
            do {
                try stream.pipeline.syncOperations.addHandler(
                    HBONEInboundStreamHandler(client: client, peer: peer, runtime: runtime))
                return stream.setOption(ChannelOptions.autoRead, value: false)
            } catch {
                return stream.eventLoop.makeFailedFuture(error)
            }
        }
        try sync.addHandler(management)
        let key = ObjectIdentifier(channel)
        let late = connections.withLockedValue { connections in
            connections[key] = channel
            return quiescing.withLockedValue { $0 }
        }
        if late {
            channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        }
        channel.closeFuture.whenComplete { [connections] _ in
            _ = connections.withLockedValue { $0.removeValue(forKey: key) }
        }
        let handshakeTimeout = configuration.handshakeTimeout
        try sync.addHandler(
            InboundConnectionTimeoutHandler(
                handshakeTimeout: handshakeTimeout, idleTimeout: configuration.idleTimeout
            ) { reason in
                switch reason {
                case .noHandshake: refused("mTLS: no handshake within \(handshakeTimeout.nanoseconds / 1_000_000) ms")
                case .idle: break
                }
            })
    }
}
