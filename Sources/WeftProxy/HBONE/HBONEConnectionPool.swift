import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL
import WeftCore

/// Pooled HBONE connections: TLS 1.3 with the calling service's certificate, the server checked to be the
/// destination node (`spiffe://<td>/node/<node>`), HTTP/2 with one CONNECT stream per tunnelled connection.
///
/// Connections are kept per (calling service, destination node) and per event loop, so that a stream and the captured
/// socket it relays share a loop and no byte crosses threads; on this machine that is one connection per core.
/// A connection takes at most `maxStreamsPerConnection` streams, takes none once newer credentials exist (it
/// finishes its streams and closes), and closes after `idleTimeout` without streams.
public final class HBONEConnectionPool: Sendable {
    public struct Configuration: Sendable {
        public var maxStreamsPerConnection = 100
        public var idleTimeout: TimeAmount = .seconds(60)
        public var connectTimeout: TimeAmount = .seconds(5)
        /// How long a CONNECT may wait for the destination node's answer (which itself waits up to 5 s for the
        /// workload). A connection that has never answered is given up with the stream.
        public var answerTimeout: TimeAmount = .seconds(10)
        /// SO_MARK on the proxy's sockets, which the capture skips.
        public var socketMark: UInt32?
        /// HTTP/2 flow-control windows: large enough for bulk transfers on a LAN.
        public var streamWindow = 4 << 20
        public var connectionWindow = 16 << 20

        public init(socketMark: UInt32? = nil) {
            self.socketMark = socketMark
        }
    }

    private struct Key: Hashable {
        var peer: HBONEPeer
        var loop: ObjectIdentifier
    }

    private let configuration: Configuration
    private let tls: MeshTLSStore
    private let logger: Logger
    private let connections = NIOLockedValueBox<[Key: [PooledConnection]]>([:])

    public init(configuration: Configuration, tls: MeshTLSStore, logger: Logger) {
        self.configuration = configuration
        self.tls = tls
        self.logger = logger
    }

    /// Open connections, for /config_dump and tests.
    public var connectionCount: Int { connections.withLockedValue { $0.values.reduce(0) { $0 + $1.count } } }

    /// Opens a CONNECT stream to `peer` for `request` on `eventLoop`. `initializer` installs the handlers above the
    /// stream (they see `HTTP2Frame.FramePayload`s); the future succeeds with the stream once the destination node
    /// answered 2xx, and fails with an `HBONEError` (or a connection error) otherwise.
    public func openStream(
        to peer: HBONEPeer, request: HBONERequest, on eventLoop: any EventLoop,
        initializer: @escaping @Sendable (any Channel) throws -> Void
    ) -> EventLoopFuture<any Channel> {
        eventLoop.assertInEventLoop()
        return tls.workloadCertificate(for: peer.source, on: eventLoop).flatMap { tls in
            self.openStream(to: peer, request: request, tls: tls, on: eventLoop, initializer: initializer)
        }
    }

    private func openStream(
        to peer: HBONEPeer, request: HBONERequest, tls: MeshTLS, on eventLoop: any EventLoop,
        initializer: @escaping @Sendable (any Channel) throws -> Void, again: Bool = false
    ) -> EventLoopFuture<any Channel> {
        let connection: PooledConnection
        do {
            connection = try pick(peer, tls: tls, on: eventLoop)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        return Self.openStream(
            on: connection, request: request, answerTimeout: configuration.answerTimeout, initializer: initializer
        ).flatMapError { error in
            // A stream on a connection the peer said GOAWAY on, caught between its two GOAWAYs, was not processed
            // (RFC 9113 §6.8): it goes once more, on another connection, before the caller sees anything.
            guard !again, connection.wentAway, Self.notProcessed(error) else {
                return eventLoop.makeFailedFuture(error)
            }
            return self.openStream(
                to: peer, request: request, tls: tls, on: eventLoop, initializer: initializer, again: true)
        }
    }

    /// Whether `error` means the destination node never answered the CONNECT (as opposed to refusing it).
    static func notProcessed(_ error: any Error) -> Bool {
        if case HBONEError.refused = error { return false }
        if case HBONEError.handshake = error { return false }
        return true
    }

    /// Opens a CONNECT stream on `connection` (on its event loop): counts it on the connection until it closes, and
    /// fails it with `HBONEError.noAnswer` when no answer came within `answerTimeout` (giving up a connection that
    /// never answered).
    static func openStream(
        on connection: PooledConnection, request: HBONERequest, answerTimeout: TimeAmount,
        initializer: @escaping @Sendable (any Channel) throws -> Void
    ) -> EventLoopFuture<any Channel> {
        let eventLoop = connection.eventLoop
        connection.streamStarted()
        let established = eventLoop.makePromise(of: Void.self)
        let noAnswer = eventLoop.scheduleTask(in: answerTimeout) {
            established.fail(HBONEError.noAnswer(within: answerTimeout))
            connection.giveUpIfNeverAnswered(HBONEError.noAnswer(within: answerTimeout))
        }
        established.futureResult.whenComplete { result in
            noAnswer.cancel()
            if case .success = result { connection.answered() }
        }
        // Every path completes `established` (a second completion is ignored) and ends the stream's count once.
        @Sendable func failed<T>(_ error: any Error, streamCounted: Bool) -> EventLoopFuture<T> {
            let error = connection.failure ?? error
            established.fail(error)
            if streamCounted { connection.streamEnded() }
            return eventLoop.makeFailedFuture(error)
        }
        return connection.multiplexer.flatMapError { error in
            failed(error, streamCounted: true)
        }.flatMap { multiplexer in
            let created = eventLoop.makePromise(of: (any Channel).self)
            multiplexer.createStreamChannel(promise: created) { stream in
                do {
                    try stream.pipeline.syncOperations.addHandler(
                        HBONEClientStreamHandler(request: request, established: established))
                    try initializer(stream)
                    return stream.setOption(ChannelOptions.autoRead, value: false)
                } catch {
                    return stream.eventLoop.makeFailedFuture(error)
                }
            }
            return created.futureResult.flatMapError { error in failed(error, streamCounted: true) }
        }.flatMap { stream in
            stream.closeFuture.whenComplete { _ in connection.streamEnded() }
            return established.futureResult.map { stream }.flatMapError { error in
                stream.close(promise: nil)
                return failed(error, streamCounted: false)
            }
        }
    }

    private func pick(_ peer: HBONEPeer, tls: MeshTLS, on eventLoop: any EventLoop) throws -> PooledConnection {
        let key = Key(peer: peer, loop: ObjectIdentifier(eventLoop))
        if let reusable = connections.withLockedValue({ pool in
            pool[key]?.first {
                $0.canTakeStream(generation: tls.generation, limit: configuration.maxStreamsPerConnection)
            }
        }) {
            return reusable
        }
        let connection = try connect(peer, tls: tls, on: eventLoop)
        connections.withLockedValue { $0[key, default: []].append(connection) }
        connection.channelClosed.whenComplete { [self] _ in
            connections.withLockedValue { pool in
                pool[key]?.removeAll { $0 === connection }
                if pool[key]?.isEmpty == true { pool[key] = nil }
            }
        }
        return connection
    }

    /// A tunnel connection's pipeline: mTLS as `context`'s workload, the server verified to be `expected`
    /// (a mismatch fails `connection`), then HTTP/2 as the client.
    static func configureClient(
        _ channel: any Channel, connection: PooledConnection, tls: MeshTLS, context: NIOSSLContext,
        expecting expected: SPIFFEID, maxStreams: Int, windows: (stream: Int, connection: Int)
    ) throws {
        let verification = tls.verification(expecting: expected) { outcome in
            switch outcome {
            case .success(let verified): tls.revocations.track(channel, serial: verified.serial)
            case .failure(let rejection): connection.fail(HBONEError.handshake(rejection.reason))
            }
        }
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(
            NIOSSLClientHandler(context: context, serverHostname: nil, customVerificationCallback: verification))
        try sync.addHandler(FlushCoalescer())
        let http2 = HBONEHTTP2.configurations(
            maxConcurrentStreams: maxStreams, streamWindow: windows.stream, connectionWindow: windows.connection)
        // The server never opens streams towards a client.
        _ = try sync.configureHTTP2Pipeline(
            mode: .client, connectionConfiguration: http2.connection, streamConfiguration: http2.stream
        ) { stream in stream.close() }
        try sync.addHandler(GoAwayObserver { connection.goAwayReceived() })
    }

    private func connect(_ peer: HBONEPeer, tls: MeshTLS, on eventLoop: any EventLoop) throws -> PooledConnection {
        let context = try tls.clientContext(for: peer.source)
        let expected = SPIFFEID.node(trustDomain: tls.credentials.trustDomain, name: peer.node)
        let connection = PooledConnection(
            generation: tls.generation, idleTimeout: configuration.idleTimeout, eventLoop: eventLoop)
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .marking(configuration.socketMark)
        for (option, value) in HBONEHTTP2.deadPeerDetection {
            bootstrap = bootstrap.channelOption(option, value: value)
        }
        let windows = (stream: configuration.streamWindow, connection: configuration.connectionWindow)
        let maxStreams = configuration.maxStreamsPerConnection
        bootstrap = bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try Self.configureClient(
                    channel, connection: connection, tls: tls, context: context, expecting: expected,
                    maxStreams: maxStreams, windows: windows)
            }
        }
        let address = try SocketAddress(peer.address)
        let logger = self.logger
        bootstrap.connect(to: address).whenComplete { result in
            switch result {
            case .success(let channel):
                do {
                    let multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self)
                        .syncMultiplexer()
                    connection.connected(channel: channel, multiplexer: multiplexer)
                    logger.debug("tunnel connection open", metadata: ["peer": "\(peer)"])
                } catch {
                    connection.fail(error)
                    channel.close(promise: nil)
                }
            case .failure(let error):
                connection.fail(error)
            }
        }
        return connection
    }
}
