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

        public init(bindAddresses: [IPSocketAddress]) {
            self.bindAddresses = bindAddresses
        }
    }

    private let configuration: Configuration
    private let group: any EventLoopGroup
    private let tls: MeshTLSStore
    private let runtime: ProxyRuntime
    private let logger: Logger
    private let sockets = ListeningSockets()

    public init(
        configuration: Configuration, group: any EventLoopGroup, tls: MeshTLSStore, runtime: ProxyRuntime,
        logger: Logger
    ) {
        self.configuration = configuration
        self.group = group
        self.tls = tls
        self.runtime = runtime
        self.logger = logger
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

    /// Stops accepting; open tunnels continue until they end.
    public func shutdown() async {
        await sockets.close()
    }

    /// An accepted connection's pipeline: mTLS with the node certificate, HTTP/2, one HBONE stream handler per stream.
    func initialize(_ channel: any Channel) throws {
        let client = channel.remoteAddress.flatMap(IPSocketAddress.init(nio:))?.description ?? "?"
        guard let tls = tls.current else {
            logger.warning(
                "HBONE connection refused: this node has no certificates yet", metadata: ["client": "\(client)"])
            throw MeshTLSError.notReady
        }
        let peer = PeerIdentity()
        let runtime = self.runtime
        let verification = tls.verification(expecting: nil) { outcome in
            switch outcome {
            case .success(let identity):
                peer.identity.withLockedValue { $0 = identity }
            case .failure(let rejection):
                let labels = ProxyMetrics.Labels(reporter: .destination, source: nil, destination: nil)
                ConnectionRecord(role: .inbound, client: client, destination: "-", labels: labels)
                    .notRelayed(.refused, reason: "mTLS: \(rejection.reason)", runtime: runtime)
            }
        }
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(NIOSSLServerHandler(context: tls.serverContext, customVerificationCallback: verification))
        try sync.addHandler(FlushCoalescer())
        let http2 = HBONEHTTP2.configurations(
            maxConcurrentStreams: configuration.maxConcurrentStreams, streamWindow: configuration.streamWindow,
            connectionWindow: configuration.connectionWindow)
        _ = try sync.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: http2.connection, streamConfiguration: http2.stream
        ) { stream in
            do {
                try stream.pipeline.syncOperations.addHandler(
                    HBONEInboundStreamHandler(client: client, peer: peer, runtime: runtime))
                return stream.setOption(ChannelOptions.autoRead, value: false)
            } catch {
                return stream.eventLoop.makeFailedFuture(error)
            }
        }
    }
}
