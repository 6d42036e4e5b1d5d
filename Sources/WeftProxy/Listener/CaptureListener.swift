import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A listener the capture redirects into (outbound :15001, inbound plaintext :15006): for each accepted
/// connection it asks the inspector what was captured, the router what to do, then relays or refuses, and
/// writes one access-log line.
public final class CaptureListener: Sendable {
    /// Where the listener binds and what it calls itself in logs.
    public struct Configuration: Sendable {
        public var direction: String
        public var bindAddresses: [IPSocketAddress]
        public var backlog: Int32 = 1024

        public init(direction: String, bindAddresses: [IPSocketAddress]) {
            self.direction = direction
            self.bindAddresses = bindAddresses
        }
    }

    public enum Error: Swift.Error, CustomStringConvertible {
        case bind(IPSocketAddress, underlying: any Swift.Error)

        public var description: String {
            switch self {
            case .bind(let address, let error):
                return "cannot listen on \(address): \(error) (is another weft-node running?)"
            }
        }
    }

    private let configuration: Configuration
    private let group: any EventLoopGroup
    private let inspector: any CapturedConnectionInspector
    private let router: any ConnectionRouter
    private let context: ProxyContext
    private let logger: Logger
    private let sockets = ListeningSockets()

    public init(
        configuration: Configuration,
        group: any EventLoopGroup,
        inspector: any CapturedConnectionInspector,
        router: any ConnectionRouter,
        context: ProxyContext,
        logger: Logger
    ) {
        self.configuration = configuration
        self.group = group
        self.inspector = inspector
        self.router = router
        self.context = context
        self.logger = logger
    }

    /// Binds every configured address; returns the bound addresses (useful with port 0 in tests).
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        let bound = try await sockets.bind(configuration.bindAddresses, group: group, backlog: configuration.backlog) {
            bootstrap in
            bootstrap
                .childChannelOption(ChannelOptions.autoRead, value: false)
                .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            EarlyInputBuffer(), StartWhenActive { self.handle($0) })
                    }
                }
        }
        logger.info("listening", metadata: ["direction": "\(configuration.direction)", "addresses": "\(bound)"])
        return bound
    }

    /// Stops accepting; relays already running continue until they end.
    public func shutdown() async {
        await sockets.close()
    }

    private func handle(_ channel: any Channel) {
        inspector.inspect(channel).whenComplete { result in
            switch result {
            case .success(let connection):
                self.route(connection, channel: channel)
            case .failure(let error):
                self.logger.warning("cannot inspect captured connection", metadata: ["error": "\(error)"])
                Self.reset(channel)
            }
        }
    }

    private func route(_ connection: CapturedConnection, channel: any Channel) {
        let config = context.config.current
        let decision = router.decide(connection, config: config)
        let reporter: ProxyMetrics.Reporter = configuration.direction == "outbound" ? .source : .destination
        func record(source: ServiceName?, destination: ServiceName?, reporter: ProxyMetrics.Reporter)
            -> ConnectionRecord
        {
            var record = ConnectionRecord(
                direction: configuration.direction, client: connection.client.description,
                destination: connection.originalDestination.description,
                labels: ProxyMetrics.Labels(reporter: reporter, source: source, destination: destination))
            record.entry.sourceCgroup = connection.source.cgroupPath
            record.entry.sourceUID = connection.source.uid
            return record
        }
        var prepared: ConnectionRecord
        switch decision {
        case .refuse(_, let source, let destination):
            prepared = record(source: source, destination: destination, reporter: reporter)
        case .forward(let upstream, let source, let destination):
            prepared = record(source: source, destination: destination, reporter: reporter)
            prepared.entry.upstream = upstream.description
        case .tunnel(let tunnel, let source):
            prepared = record(source: source, destination: tunnel.destination, reporter: .source)
            prepared.entry.upstream = tunnel.authority.description
            prepared.entry.tunnelNode = tunnel.peer.node
            prepared.entry.sourceIdentity =
                SPIFFEID.workload(
                    trustDomain: config.trustDomain, namespace: source.namespace, service: source.name
                ).description
            prepared.entry.requestID = UUID().uuidString.lowercased()
        }
        let context = self.context
        let record = prepared
        switch decision {
        case .refuse(let reason, _, _):
            Self.reset(channel)
            record.refused("refused", reason: reason, context: context)
        case .forward(let upstream, _, _):
            context.connector.connect(to: upstream, on: channel.eventLoop).whenComplete { result in
                switch result {
                case .failure(let error):
                    Self.reset(channel)
                    record.refused("failed", reason: "connect to \(upstream): \(error)", context: context)
                case .success(let upstreamChannel):
                    Self.relay(channel, to: upstreamChannel, record: record, context: context)
                }
            }
        case .tunnel(let tunnel, _):
            guard let tunnels = context.tunnels else {
                Self.reset(channel)
                record.refused(
                    "refused",
                    reason:
                        "\(tunnel.destination) runs on node \(tunnel.peer.node) and this node has no mesh credentials for a tunnel",
                    context: context)
                return
            }
            let request = HBONERequest(authority: tunnel.authority, requestID: record.entry.requestID)
            tunnels.openStream(to: tunnel.peer, request: request, on: channel.eventLoop) { stream in
                try stream.pipeline.syncOperations.addHandler(HBONEStreamAdapter())
            }.whenComplete { result in
                switch result {
                case .failure(let error):
                    Self.reset(channel)
                    let refused: Bool
                    if case HBONEError.refused(let status, _) = error {
                        refused = status == 403
                    } else {
                        refused = false
                    }
                    record.refused(
                        refused ? "refused" : "failed", reason: "tunnel to node \(tunnel.peer.node): \(error)",
                        context: context)
                case .success(let stream):
                    Self.relay(channel, to: stream, record: record, context: context)
                }
            }
        }
    }

    /// Relays the client `channel` to `upstream` (a socket or a tunnel stream); when the relay cannot start, resets
    /// the client, closes `upstream` and records why.
    private static func relay(
        _ channel: any Channel, to upstream: any Channel, record: ConnectionRecord, context: ProxyContext
    ) {
        do {
            try record.relay(downstream: channel, upstream: upstream, context: context) { reset(channel) }
        } catch {
            reset(channel)
            upstream.close(promise: nil)
            record.refused("failed", reason: "cannot relay: \(error)", context: context)
        }
    }

    /// Closes with RST (SO_LINGER 0), so the client sees a refusal at once rather than an orderly end of stream.
    static func reset(_ channel: any Channel) {
        guard let provider = channel as? any SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Starts handling an accepted connection once it is registered and active. The child initializer runs before the
/// server channel registers the connection, and a relay set up on a channel that is not active yet would find it
/// "closed" (a fast upstream connect won that race for about one connection in five).
private final class StartWhenActive: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let start: (any Channel) -> Void

    init(_ start: @escaping (any Channel) -> Void) {
        self.start = start
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        start(context.channel)
    }
}
