import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WeftCore

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
    private let connector: UpstreamConnector
    private let accessLog: AccessLog
    private let logger: Logger
    private let channels = NIOLockedValueBox<[any Channel]>([])

    public init(
        configuration: Configuration,
        group: any EventLoopGroup,
        inspector: any CapturedConnectionInspector,
        router: any ConnectionRouter,
        connector: UpstreamConnector,
        accessLog: AccessLog,
        logger: Logger
    ) {
        self.configuration = configuration
        self.group = group
        self.inspector = inspector
        self.router = router
        self.connector = connector
        self.accessLog = accessLog
        self.logger = logger
    }

    /// Binds every configured address; returns the bound addresses (useful with port 0 in tests).
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        var bound: [SocketAddress] = []
        for address in configuration.bindAddresses {
            var bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.backlog, value: configuration.backlog)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            if !address.address.isIPv4 {
                // An IPv6 wildcard must not take IPv4 too: IPv4 connections belong to the IPv4 socket, where the
                // original destination is read with the IPv4 option.
                bootstrap = bootstrap.serverChannelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1)
            }
            bootstrap = bootstrap
                .childChannelOption(ChannelOptions.autoRead, value: false)
                .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { [self] channel in
                    channel.eventLoop.execute { self.handle(channel) }
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
            do {
                let socketAddress = try SocketAddress(address)
                let channel = try await bootstrap.bind(to: socketAddress).get()
                channels.withLockedValue { $0.append(channel) }
                if let local = channel.localAddress { bound.append(local) }
            } catch {
                await shutdown()
                throw Error.bind(address, underlying: error)
            }
        }
        logger.info("listening", metadata: ["direction": "\(configuration.direction)", "addresses": "\(bound)"])
        return bound
    }

    /// Stops accepting; relays already running continue until they end.
    public func shutdown() async {
        let all = channels.withLockedValue { channels in
            defer { channels.removeAll() }
            return channels
        }
        for channel in all {
            try? await channel.close()
        }
    }

    private func handle(_ channel: any Channel) {
        let started = Date()
        inspector.inspect(channel).whenComplete { result in
            switch result {
            case .success(let connection):
                self.route(connection, channel: channel, started: started)
            case .failure(let error):
                self.logger.warning("cannot inspect captured connection", metadata: ["error": "\(error)"])
                Self.reset(channel)
            }
        }
    }

    private func route(_ connection: CapturedConnection, channel: any Channel, started: Date) {
        switch router.decide(connection) {
        case .refuse(let reason):
            Self.reset(channel)
            record(connection, started: started, destinationService: nil, upstream: nil, result: "refused",
                   reason: reason, stats: RelayStats())
        case .forward(let upstream, let destinationService):
            connector.connect(to: upstream, on: channel.eventLoop).whenComplete { result in
                switch result {
                case .failure(let error):
                    Self.reset(channel)
                    self.record(connection, started: started, destinationService: destinationService,
                                upstream: upstream, result: "failed", reason: "connect to \(upstream): \(error)",
                                stats: RelayStats())
                case .success(let upstreamChannel):
                    let done = channel.eventLoop.makePromise(of: RelayStats.self)
                    let (downstreamHandler, upstreamHandler) = RelayHandler.matchedPair(completion: done)
                    do {
                        try channel.pipeline.syncOperations.addHandler(downstreamHandler)
                        try upstreamChannel.pipeline.syncOperations.addHandler(upstreamHandler)
                    } catch {
                        Self.reset(channel)
                        upstreamChannel.close(promise: nil)
                        return
                    }
                    channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
                    upstreamChannel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
                    done.futureResult.whenSuccess { stats in
                        self.record(connection, started: started, destinationService: destinationService,
                                    upstream: upstream, result: "forwarded", reason: nil, stats: stats)
                    }
                }
            }
        }
    }

    private func record(
        _ connection: CapturedConnection, started: Date, destinationService: String?, upstream: IPSocketAddress?,
        result: String, reason: String?, stats: RelayStats
    ) {
        accessLog.record(AccessLogEntry(
            time: AccessLog.timestamp(started),
            direction: configuration.direction,
            client: connection.client.description,
            originalDestination: connection.originalDestination.description,
            sourceService: connection.source.service,
            sourceCgroup: connection.source.cgroupPath,
            sourceUID: connection.source.uid,
            destinationService: destinationService,
            upstream: upstream?.description,
            result: result,
            reason: reason,
            bytesSent: stats.bytesFromDownstream,
            bytesReceived: stats.bytesFromUpstream,
            durationMilliseconds: (Date().timeIntervalSince(started) * 1000).rounded() / 1
        ))
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
