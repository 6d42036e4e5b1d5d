import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import Testing
import WeftCore

@testable import WeftProxy

/// The pooled connection's timeouts in virtual time: an HTTP/2 client on an `EmbeddedChannel`, and where a CONNECT
/// must be answered, an HTTP/2 server on a second one of the same `EmbeddedEventLoop`, bytes carried in memory.
@Suite struct PooledConnectionTimeoutTests {
    static let idleTimeout = TimeAmount.seconds(60)
    static let answerTimeout = TimeAmount.seconds(10)
    static let request = HBONERequest(authority: IPSocketAddress("198.18.0.12:8080")!, requestID: "req-virtual")

    /// Answers every CONNECT stream with 200 (or never, when `silent`).
    final class Answerer: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTP2Frame.FramePayload
        typealias OutboundOut = HTTP2Frame.FramePayload
        var silent = false

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !silent, case .headers = unwrapInboundIn(data) else { return }
            context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: [":status": "200"]))), promise: nil)
        }
    }

    struct Fixture {
        let loop = EmbeddedEventLoop()
        let client: EmbeddedChannel
        let server: EmbeddedChannel
        let answerer = Answerer()
        let connection: PooledConnection

        init() {
            client = EmbeddedChannel(loop: loop)
            server = EmbeddedChannel(loop: loop)
            connection = PooledConnection(
                generation: 1, idleTimeout: PooledConnectionTimeoutTests.idleTimeout, eventLoop: loop)
        }

        /// Connects the client channel (and the server behind it) and hands it to the connection.
        func connect() throws {
            let http2 = HBONEHTTP2.configurations(
                maxConcurrentStreams: 100, streamWindow: 1 << 20, connectionWindow: 1 << 20)
            _ = try client.pipeline.syncOperations.configureHTTP2Pipeline(
                mode: .client, connectionConfiguration: http2.connection, streamConfiguration: http2.stream
            ) { stream in stream.close() }
            let answerer = self.answerer
            _ = try server.pipeline.syncOperations.configureHTTP2Pipeline(
                mode: .server, connectionConfiguration: http2.connection, streamConfiguration: http2.stream
            ) { stream in
                stream.eventLoop.makeCompletedFuture { try stream.pipeline.syncOperations.addHandler(answerer) }
            }
            let address = try SocketAddress(ipAddress: "198.18.0.12", port: 15008)
            try client.connect(to: address).wait()
            try server.connect(to: address).wait()
            let multiplexer = try client.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self).syncMultiplexer()
            connection.connected(channel: client, multiplexer: multiplexer)
            try interact()
        }

        /// Carries the bytes each side wrote to the other until both are quiet.
        func interact() throws {
            var moved = true
            while moved {
                moved = false
                loop.run()
                moved = try Self.carry(from: client, to: server) || moved
                moved = try Self.carry(from: server, to: client) || moved
            }
        }

        private static func carry(from source: EmbeddedChannel, to target: EmbeddedChannel) throws -> Bool {
            var moved = false
            while source.isActive, target.isActive, let data = try source.readOutbound(as: IOData.self) {
                guard case .byteBuffer(let bytes) = data else { continue }
                try target.writeInbound(bytes)
                moved = true
            }
            return moved
        }

        func openStream() -> EventLoopFuture<any Channel> {
            HBONEConnectionPool.openStream(
                on: connection, request: PooledConnectionTimeoutTests.request,
                answerTimeout: PooledConnectionTimeoutTests.answerTimeout
            ) { _ in }
        }

        var closed: Bool { outcome(of: connection.channelClosed) != nil }
    }

    @Test func aConnectionWithoutStreamsClosesAfterTheIdleTimeout() throws {
        let f = Fixture()
        try f.connect()
        f.loop.advanceTime(by: Self.idleTimeout - .milliseconds(1))
        #expect(f.client.isActive && !f.closed)
        f.loop.advanceTime(by: .milliseconds(1))
        #expect(!f.client.isActive)
        #expect(f.closed, "it leaves the pool")
    }

    @Test func anOpenStreamKeepsTheConnectionAndItsEndRestartsTheIdleTimeout() throws {
        let f = Fixture()
        try f.connect()
        f.loop.advanceTime(by: .seconds(30))
        let stream = f.openStream()
        try f.interact()
        let channel = try #require(try outcome(of: stream)?.get(), "the CONNECT is answered")
        f.loop.advanceTime(by: Self.idleTimeout * 2)
        #expect(f.client.isActive, "a connection with a stream is not idle")
        #expect(f.connection.streams == 1)

        channel.close(promise: nil)
        try f.interact()
        #expect(f.connection.streams == 0)
        f.loop.advanceTime(by: Self.idleTimeout - .milliseconds(1))
        #expect(f.client.isActive)
        f.loop.advanceTime(by: .milliseconds(1))
        #expect(f.closed)
    }

    @Test func aConnectUnansweredInTimeFailsAndGivesUpAConnectionThatNeverAnswered() throws {
        let f = Fixture()
        f.answerer.silent = true
        try f.connect()
        let stream = f.openStream()
        try f.interact()
        f.loop.advanceTime(by: Self.answerTimeout - .milliseconds(1))
        #expect(outcome(of: stream) == nil, "still waiting")
        f.loop.advanceTime(by: .milliseconds(1))
        try f.interact()
        #expect(failure(of: stream) as? HBONEError == .noAnswer(within: Self.answerTimeout))
        #expect(f.closed, "new streams must not wait on it")
        #expect(!f.connection.canTakeStream(generation: 1, limit: 100))
    }

    @Test func aConnectUnansweredOnAConnectionThatAnswersFailsAloneAndTheConnectionStays() throws {
        let f = Fixture()
        try f.connect()
        let first = f.openStream()
        try f.interact()
        #expect(try outcome(of: first)?.get() != nil)
        f.answerer.silent = true
        let second = f.openStream()
        try f.interact()
        f.loop.advanceTime(by: Self.answerTimeout)
        try f.interact()
        #expect(failure(of: second) as? HBONEError == .noAnswer(within: Self.answerTimeout))
        #expect(!f.closed && f.client.isActive)
        #expect(f.connection.streams == 1, "the unanswered stream was closed and is no longer counted")
    }

    @Test func aConnectionThatNeverConnectsFailsItsStreamInTime() throws {
        let f = Fixture()
        let stream = f.openStream()
        f.loop.advanceTime(by: Self.answerTimeout)
        #expect(failure(of: stream) as? HBONEError == .noAnswer(within: Self.answerTimeout))
        #expect(f.closed, "the connection is given up")
        try f.connect()
        #expect(!f.client.isActive, "a channel that arrives after the connection was given up is closed")
    }
}
