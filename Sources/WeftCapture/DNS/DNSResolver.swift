import Logging
import NIOCore
import NIOPosix
import Synchronization
import WeftCore

/// The node's DNS resolver: answers names under the mesh domain from a name table the node keeps current, and
/// forwards every other query to the upstream servers (UDP over UDP, TCP over TCP).
///
/// ```swift
/// let resolver = try DNSResolver(configuration: .init(upstreams: ResolvConf.load(logger: logger).nameservers))
/// try await resolver.start()
/// resolver.update(names: ["backend.default": [.v4(0xF000_0007)]])
/// await resolver.shutdown()
/// ```
public final class DNSResolver: Sendable {
    public let configuration: DNSResolverConfiguration
    private let engine: DNSQueryEngine
    private let group: any EventLoopGroup
    /// The listen sockets: a predecessor's after a hitless restart, else new ones.
    private let sockets: ListenSocketTable
    private let logger: Logger
    private let state = Mutex(State.idle)
    private let connections = Mutex<[ObjectIdentifier: any Channel]>([:])

    private enum State {
        case idle
        case starting
        case running(Running)
        case stopped
    }

    private struct Running {
        var listeners: [any Channel]
        var upstreams: DNSUDPUpstreams
        var localAddresses: [IPSocketAddress]
    }

    /// Validates the configuration; nothing is opened until `start()`.
    public init(
        configuration: DNSResolverConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "weft.dns"),
        sockets: ListenSocketTable = ListenSocketTable()
    ) throws(DNSResolverConfigurationError) {
        try configuration.validate()
        self.sockets = sockets
        self.configuration = configuration
        self.group = eventLoopGroup
        self.logger = logger
        self.engine = DNSQueryEngine(configuration: configuration, logger: logger)
    }

    /// Replaces the mesh name table; queries that arrive afterwards see the new names.
    public func update(names: MeshNameTable) {
        engine.update(names: names)
    }

    /// Replaces the mesh name table from relative names (`backend`, `backend.default`) and their addresses.
    public func update(names: [String: [IPAddress]]) {
        engine.update(names: MeshNameTable(names))
    }

    /// Replaces the upstream servers (e.g. after /etc/resolv.conf changed). Servers that are our own listen
    /// addresses are skipped. Takes effect for new queries; the address families' sockets are those opened at start.
    public func update(upstreams: [IPSocketAddress]) {
        let own = state.withLock { state -> [IPSocketAddress] in
            if case .running(let running) = state { return running.localAddresses }
            return configuration.listenAddresses
        }
        engine.update(upstreams: usableUpstreams(upstreams, own: own))
    }

    /// What the resolver has done so far.
    public var counters: DNSResolverCounters { engine.counters }

    /// The addresses it listens on (UDP and TCP on each), with the ports picked for port 0; empty unless running.
    public var localAddresses: [IPSocketAddress] {
        state.withLock { state in
            if case .running(let running) = state { return running.localAddresses }
            return []
        }
    }

    /// Binds the listen sockets and opens the upstream sockets. Throws `DNSResolverError` when it cannot; then
    /// nothing stays open. Call at most once.
    public func start() async throws {
        try state.withLock { state throws(DNSResolverError) in
            guard case .idle = state else { throw .alreadyStarted }
            state = .starting
        }
        var listeners: [any Channel] = []
        var localAddresses: [IPSocketAddress] = []
        do {
            for address in configuration.listenAddresses {
                let (udp, tcp, bound) = try await bindListeners(address)
                listeners += [udp, tcp]
                localAddresses.append(bound)
            }
            let upstreams = usableUpstreams(configuration.upstreams, own: localAddresses)
            if upstreams.isEmpty {
                logger.warning("no upstream DNS servers: names outside the mesh domain will get SERVFAIL")
            }
            engine.update(upstreams: upstreams)
            let clients = try await DNSUDPUpstreams.open(
                for: upstreams, socketMark: configuration.socketMark,
                maxOutstanding: configuration.maxOutstandingUpstreamQueries, group: group, logger: logger)
            engine.setUDPUpstreams(clients)
            let running = Running(listeners: listeners, upstreams: clients, localAddresses: localAddresses)
            state.withLock { $0 = .running(running) }
            logger.info(
                "DNS resolver listening",
                metadata: [
                    "addresses": "\(localAddresses.map(\.description).joined(separator: ", "))",
                    "upstreams": "\(upstreams.map { "\($0)" }.joined(separator: ", "))",
                    "meshDomain": "\(configuration.meshDomain)",
                ])
        } catch {
            for channel in listeners {
                try? await channel.close()
            }
            state.withLock { $0 = .stopped }
            throw error
        }
    }

    /// Closes every socket, including open client TCP connections. Queries in progress get no answer.
    public func shutdown() async {
        let running = state.withLock { state -> Running? in
            defer { state = .stopped }
            if case .running(let running) = state { return running }
            return nil
        }
        guard let running else { return }
        engine.setUDPUpstreams(nil)
        for channel in running.listeners {
            try? await channel.close()
        }
        let open = connections.withLock { connections in
            defer { connections = [:] }
            return Array(connections.values)
        }
        for channel in open {
            try? await channel.close()
        }
        await running.upstreams.close()
        logger.info("DNS resolver stopped")
    }

    // MARK: Listeners

    /// Binds UDP then TCP on the same address and port; for port 0 retries a few times when TCP cannot take the
    /// port UDP got.
    private func bindListeners(_ address: IPSocketAddress) async throws(DNSResolverError) -> (
        any Channel, any Channel, IPSocketAddress
    ) {
        let attempts = address.port == 0 ? 8 : 1
        var lastError: any Error = DNSResolverError.bindFailed(address, "no attempt made")
        for _ in 0..<attempts {
            let udp: any Channel
            do {
                udp = try await bindUDP(address)
            } catch {
                throw .bindFailed(address, "\(error)")
            }
            guard let port = udp.localAddress?.port, let udpPort = UInt16(exactly: port) else {
                sockets.release(ListenSocketKey(.udp, address))
                try? await udp.close()
                throw .bindFailed(address, "no local port after bind")
            }
            let bound = IPSocketAddress(address: address.address, port: udpPort)
            do {
                let tcp = try await bindTCP(bound)
                return (udp, tcp, bound)
            } catch {
                lastError = error
                sockets.release(ListenSocketKey(.udp, address))
                try? await udp.close()
            }
        }
        throw .bindFailed(address, "\(lastError)")
    }

    private func bindUDP(_ address: IPSocketAddress) async throws -> any Channel {
        let engine = self.engine
        let maxInFlight = configuration.maxConcurrentUDPQueries
        let fd = try sockets.socket(for: ListenSocketKey(.udp, address))
        return try await DatagramBootstrap(group: group)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DNSUDPServerHandler(engine: engine, maxInFlight: maxInFlight))
                }
            }
            .withBoundSocket(fd)
            .get()
    }

    private func bindTCP(_ address: IPSocketAddress) async throws -> any Channel {
        let engine = self.engine
        let configuration = self.configuration
        let fd = try sockets.socket(for: ListenSocketKey(.tcp, address), backlog: 256)
        return try await ServerBootstrap(group: group)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { [self] channel in
                let key = ObjectIdentifier(channel)
                connections.withLock { $0[key] = channel }
                channel.closeFuture.whenComplete { [self] _ in
                    _ = connections.withLock { $0.removeValue(forKey: key) }
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: TimeAmount(configuration.tcpIdleTimeout)),
                        ByteToMessageHandler(DNSTCPFrameDecoder(maxMessageSize: configuration.maxTCPQuerySize)),
                        DNSTCPServerHandler(engine: engine, maxInFlight: configuration.maxPipelinedTCPQueries),
                    ])
                }
            }
            .withBoundSocket(fd)
            .get()
    }

    private func usableUpstreams(_ servers: [IPSocketAddress], own: [IPSocketAddress]) -> [SocketAddress] {
        servers.compactMap { server in
            if ResolvConf.isOwnAddress(server, own) {
                logger.warning(
                    "skipping upstream DNS server that is this resolver's own address",
                    metadata: ["server": "\(server)"])
                return nil
            }
            return try? SocketAddress(server)
        }
    }
}

/// Why the resolver could not start.
public enum DNSResolverError: Error, Hashable, Sendable, CustomStringConvertible {
    case alreadyStarted
    case bindFailed(IPSocketAddress, String)

    public var description: String {
        switch self {
        case .alreadyStarted:
            return "the DNS resolver was already started; create a new one to start again"
        case .bindFailed(let address, let reason):
            return "cannot listen for DNS on \(address): \(reason) (is another resolver using the port?)"
        }
    }
}

extension SocketAddress {
    init(_ address: IPSocketAddress) throws {
        try self.init(ipAddress: address.address.description, port: Int(address.port))
    }
}
