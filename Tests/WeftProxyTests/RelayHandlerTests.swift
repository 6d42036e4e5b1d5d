import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing
@testable import WeftProxy

/// Records the outbound events that reach it, in front of the relay (towards the socket).
private final class OutboundRecorder: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = ByteBuffer
    var reads = 0
    var closeModes: [CloseMode] = []

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        closeModes.append(mode)
        if mode == .all {
            context.close(mode: mode, promise: promise)
        } else {
            promise?.succeed()
        }
    }
}

private struct RelayFixture {
    let downstream = EmbeddedChannel()
    let upstream = EmbeddedChannel()
    let downstreamRecorder = OutboundRecorder()
    let upstreamRecorder = OutboundRecorder()
    let done: EventLoopPromise<RelayStats>

    init() throws {
        done = downstream.eventLoop.makePromise()
        let (d, u) = RelayHandler.matchedPair(completion: done)
        try downstream.pipeline.syncOperations.addHandlers([downstreamRecorder, d])
        try upstream.pipeline.syncOperations.addHandlers([upstreamRecorder, u])
        let peer = try SocketAddress(ipAddress: "198.18.0.1", port: 1)
        try downstream.connect(to: peer).wait()
        try upstream.connect(to: peer).wait()
    }
}

@Suite struct RelayHandlerTests {
    @Test func bytesFlowBothWaysAndAreCounted() throws {
        let f = try RelayFixture()
        try f.downstream.writeInbound(ByteBuffer(string: "hello"))
        #expect(try f.upstream.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "hello"))
        try f.upstream.writeInbound(ByteBuffer(string: "world!"))
        #expect(try f.downstream.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "world!"))

        let stats = NIOLockedValueBox<RelayStats?>(nil)
        f.done.futureResult.whenSuccess { result in stats.withLockedValue { $0 = result } }
        _ = try f.downstream.finish(acceptAlreadyClosed: true)
        _ = try f.upstream.finish(acceptAlreadyClosed: true)
        #expect(stats.withLockedValue { $0 } == RelayStats(bytesFromDownstream: 5, bytesFromUpstream: 6))
    }

    @Test func readsStopWhilePartnerIsNotWritable() throws {
        let f = try RelayFixture()
        f.upstream.isWritable = false
        f.downstream.read()
        #expect(f.downstreamRecorder.reads == 0, "must not read while the other side cannot take the bytes")

        f.upstream.isWritable = true
        f.upstream.pipeline.fireChannelWritabilityChanged()
        #expect(f.downstreamRecorder.reads == 1, "the held read happens once the partner is writable again")

        f.downstream.read()
        #expect(f.downstreamRecorder.reads == 2)
    }

    @Test func halfCloseShutsPartnerOutputAndKeepsOtherDirection() throws {
        let f = try RelayFixture()
        f.downstream.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(f.upstreamRecorder.closeModes == [.output])
        #expect(f.downstream.isActive && f.upstream.isActive)

        try f.upstream.writeInbound(ByteBuffer(string: "late reply"))
        #expect(try f.downstream.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "late reply"))

        f.upstream.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(f.downstreamRecorder.closeModes.contains(.output))
        #expect(f.downstreamRecorder.closeModes.contains(.all), "both directions ended: the pair closes")
        #expect(f.upstreamRecorder.closeModes.contains(.all))
    }

    @Test func oneSideClosingClosesTheOther() throws {
        let f = try RelayFixture()
        let stats = NIOLockedValueBox<RelayStats?>(nil)
        f.done.futureResult.whenSuccess { result in stats.withLockedValue { $0 = result } }
        try f.upstream.writeInbound(ByteBuffer(string: "abc"))
        _ = try f.upstream.finish(acceptAlreadyClosed: true)
        f.downstream.embeddedEventLoop.run()
        #expect(f.downstreamRecorder.closeModes == [.all])
        #expect(!f.downstream.isActive)
        #expect(stats.withLockedValue { $0 } == RelayStats(bytesFromDownstream: 0, bytesFromUpstream: 3))
    }
}
