import Logging
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
    /// Where the listener binds and which listener it is (in logs, the access log and metrics).
    public struct Configuration: Sendable {
        public var role: ListenerRole
        public var bindAddresses: [IPSocketAddress]
        public var backlog: Int32 = 1024

        public init(role: ListenerRole, bindAddresses: [IPSocketAddress]) {
            self.role = role
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
    private let runtime: ProxyRuntime
    private let logger: Logger
    private let sockets: ListeningSockets

    public init(
        configuration: Configuration,
        group: any EventLoopGroup,
        inspector: any CapturedConnectionInspector,
        router: any ConnectionRouter,
        runtime: ProxyRuntime,
        logger: Logger,
        sockets: ListenSocketTable = ListenSocketTable()
    ) {
        self.sockets = ListeningSockets(table: sockets, live: runtime.live)
        self.configuration = configuration
        self.group = group
        self.inspector = inspector
        self.router = router
        self.runtime = runtime
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
        logger.info("listening", metadata: ["direction": "\(configuration.role.rawValue)", "addresses": "\(bound)"])
        return bound
    }

    /// Stops accepting, the sockets still open (connections just accepted finish their setup); `shutdown` closes.
    public func stopAccepting() async {
        await sockets.pause()
    }

    /// Stops accepting and closes the sockets; relays already running continue until they end.
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
        let config = runtime.config.current
        let decision = router.decide(connection, config: config)
        let reporter = configuration.role.reporter
        func record(source: ServiceName?, destination: ServiceName?, reporter: ProxyMetrics.Reporter)
            -> ConnectionRecord
        {
            var record = ConnectionRecord(
                role: configuration.role, client: connection.client.description,
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
        let runtime = self.runtime
        let record = prepared
        switch decision {
        case .refuse(let refusal, _, _):
            Self.reset(channel)
            record.refused(refusal, runtime: runtime)
        case .forward(let upstream, _, _):
            runtime.connector.connect(to: upstream, on: channel.eventLoop).whenComplete { result in
                switch result {
                case .failure(let error):
                    Self.reset(channel)
                    record.notRelayed(.failed, reason: "connect to \(upstream): \(error)", runtime: runtime)
                case .success(let upstreamChannel):
                    Self.relay(channel, to: upstreamChannel, record: record, runtime: runtime)
                }
            }
        case .tunnel(let tunnel, _):
            guard let tunnels = runtime.tunnels else {
                Self.reset(channel)
                record.refused(
                    .unavailable(
                        "\(tunnel.destination) runs on node \(tunnel.peer.node) and this node has no mesh credentials for a tunnel"
                    ), runtime: runtime)
                return
            }
            let request = HBONERequest(authority: tunnel.authority, requestID: record.entry.requestID)
            tunnels.openStream(to: tunnel.peer, request: request, on: channel.eventLoop) { stream in
                try stream.pipeline.syncOperations.addHandler(HBONEStreamAdapter())
            }.whenComplete { result in
                switch result {
                case .failure(let error):
                    Self.reset(channel)
                    let result: ConnectionResult
                    if case HBONEError.refused(.forbidden, _) = error {
                        result = .refused
                    } else {
                        result = .failed
                    }
                    record.notRelayed(result, reason: "tunnel to node \(tunnel.peer.node): \(error)", runtime: runtime)
                case .success(let stream):
                    Self.relay(channel, to: stream, record: record, runtime: runtime)
                }
            }
        }
    }

    /// Relays the client `channel` to `upstream` (a socket or a tunnel stream); when the relay cannot start, resets
    /// the client, closes `upstream` and records why.
    private static func relay(
        _ channel: any Channel, to upstream: any Channel, record: ConnectionRecord, runtime: ProxyRuntime
    ) {
        do {
            try record.relay(downstream: channel, upstream: upstream, runtime: runtime) { reset(channel) }
        } catch {
            reset(channel)
            upstream.close(promise: nil)
            record.notRelayed(.failed, reason: "cannot relay: \(error)", runtime: runtime)
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
