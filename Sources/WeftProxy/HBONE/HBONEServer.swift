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
/// the destination service's intentions with the caller's identity, and is relayed to the workload.
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
    private let context: ProxyContext
    private let logger: Logger
    private let sockets = ListeningSockets()

    public init(
        configuration: Configuration, group: any EventLoopGroup, tls: MeshTLSStore, context: ProxyContext,
        logger: Logger
    ) {
        self.configuration = configuration
        self.group = group
        self.tls = tls
        self.context = context
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

    private func initialize(_ channel: any Channel) throws {
        let client = channel.remoteAddress.flatMap(IPSocketAddress.init(nio:))?.description ?? "?"
        guard let tls = tls.current else {
            logger.warning(
                "HBONE connection refused: this node has no certificates yet", metadata: ["client": "\(client)"])
            throw MeshTLSError.notReady
        }
        let peer = PeerIdentity()
        let context = self.context
        let verification = tls.verification(expecting: nil) { outcome in
            switch outcome {
            case .success(let identity):
                peer.identity.withLockedValue { $0 = identity }
            case .failure(let rejection):
                let labels = ProxyMetrics.Labels(reporter: .destination, source: nil, destination: nil)
                ConnectionRecord(direction: "inbound", client: client, destination: "-", labels: labels)
                    .refused("refused", reason: "mTLS: \(rejection.reason)", context: context)
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
                    HBONEInboundStreamHandler(client: client, peer: peer, context: context))
                return stream.setOption(ChannelOptions.autoRead, value: false)
            } catch {
                return stream.eventLoop.makeFailedFuture(error)
            }
        }
    }
}

/// The verified identity of one HBONE connection's client, set during the handshake, read by its streams.
final class PeerIdentity: Sendable {
    let identity = NIOLockedValueBox<SPIFFEID?>(nil)
}

/// One inbound CONNECT stream: decides, connects to the workload, answers, then relays.
final class HBONEInboundStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let client: String
    private let peer: PeerIdentity
    let proxy: ProxyContext
    private var requested = false
    var established = false
    private var held = HeldFrames()

    init(client: String, peer: PeerIdentity, context: ProxyContext) {
        self.client = client
        self.peer = peer
        self.proxy = context
    }

    func channelActive(context: ChannelHandlerContext) {
        context.read()
        context.fireChannelActive()
    }

    func read(context: ChannelHandlerContext) {
        if established { held.release(context: context) }
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !requested else {
            held.pass(data, context: context)
            return
        }
        guard case .headers(let headers) = unwrapInboundIn(data) else {
            context.close(promise: nil)
            return
        }
        requested = true
        handle(headers.headers, context: context)
    }

    private func handle(_ headers: HPACKHeaders, context: ChannelHandlerContext) {
        let identity = peer.identity.withLockedValue { $0 }
        let config = proxy.config.current
        let source = identity.flatMap { config.service(of: $0) }
        var record = ConnectionRecord(
            direction: "inbound", client: client, destination: headers.first(name: ":authority") ?? "-",
            labels: ProxyMetrics.Labels(reporter: .destination, source: source, destination: nil))
        record.entry.sourceIdentity = identity?.description
        record.entry.requestID = headers.first(name: HBONERequest.requestIDHeader)

        let request: HBONERequest
        do throws(HBONERequest.ParseError) {
            request = try HBONERequest(parsing: headers)
        } catch {
            refuse(status: error.status, reason: error.description, record: record, context: context)
            return
        }
        guard let identity else {
            refuse(
                status: 403, reason: "the connection has no verified client identity", record: record, context: context)
            return
        }
        guard let service = config.state.localService(atEndpoint: request.authority) else {
            refuse(
                status: 404, reason: "\(request.authority) is not an endpoint on this node", record: record,
                context: context)
            return
        }
        let destination = service.serviceName
        record.labels.destination = destination
        record.entry.destinationService = destination.description
        let decision = config.policy.evaluate(source: source, destination: destination)
        guard decision.allowed else {
            refuse(status: 403, reason: "denied for \(identity): \(decision.reason)", record: record, context: context)
            return
        }
        let stream = context.channel
        record.entry.upstream = request.authority.description
        let accepted = record
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        proxy.connector.connect(to: request.authority, on: context.eventLoop).whenComplete { result in
            let (handler, context) = bound.value
            switch result {
            case .failure(let error):
                handler.refuse(
                    status: 503, reason: "workload \(destination) at \(request.authority) is down: \(error)",
                    record: accepted, context: context)
            case .success(let upstream):
                do {
                    try stream.pipeline.syncOperations.addHandler(HBONEStreamAdapter())
                    // Before the relay's first read, which releases frames the client sent ahead of our answer.
                    handler.established = true
                    try accepted.relay(downstream: stream, upstream: upstream, context: handler.proxy) {
                        stream.close(promise: nil)
                    }
                    let ok = HTTP2Frame.FramePayload.headers(.init(headers: [":status": "200"]))
                    context.writeAndFlush(handler.wrapOutboundOut(ok), promise: nil)
                } catch {
                    upstream.close(promise: nil)
                    handler.refuse(status: 503, reason: "cannot relay: \(error)", record: accepted, context: context)
                }
            }
        }
    }

    func refuse(status: Int, reason: String, record: ConnectionRecord, context: ChannelHandlerContext) {
        record.refused(status == 503 ? "failed" : "refused", reason: reason, context: proxy)
        let headers = HPACKHeaders([(":status", String(status)), (HBONEError.reasonHeader, Self.headerSafe(reason))])
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers, endStream: true)))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// Header values may not hold control characters.
    private static func headerSafe(_ text: String) -> String {
        String(
            String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }).prefix(
                512))
    }
}
