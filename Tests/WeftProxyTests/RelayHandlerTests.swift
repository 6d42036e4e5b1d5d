import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

@testable import WeftProxy

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
