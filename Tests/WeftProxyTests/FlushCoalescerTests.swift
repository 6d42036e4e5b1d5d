import NIOCore
import NIOEmbedded
import Testing

@testable import WeftProxy

/// Counts the flushes that reach the layer below (TLS, on a real HBONE connection).
private final class FlushCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var flushes = 0

    func flush(context: ChannelHandlerContext) {
        flushes += 1
        context.flush()
    }
}

@Suite struct FlushCoalescerTests {
    private func fixture() throws -> (EmbeddedChannel, FlushCounter) {
        let channel = EmbeddedChannel()
        let counter = FlushCounter()
        try channel.pipeline.syncOperations.addHandlers([counter, FlushCoalescer()])
        return (channel, counter)
    }

    @Test func flushesOfOneTickLeaveTogetherAtItsEnd() throws {
        let (channel, counter) = try fixture()
        for text in ["a", "b", "c"] { channel.writeAndFlush(ByteBuffer(string: text), promise: nil) }
        #expect(counter.flushes == 0, "nothing leaves before the tick ends")
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)

        channel.embeddedEventLoop.run()
        #expect(counter.flushes == 1)
        #expect(
            try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "abc",
            "small writes leave as one")
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)

        channel.writeAndFlush(ByteBuffer(string: "d"), promise: nil)
        channel.embeddedEventLoop.run()
        #expect(counter.flushes == 2, "a later tick flushes again")
    }

    @Test func aCloseSendsWhatIsPendingFirst() throws {
        let (channel, counter) = try fixture()
        channel.writeAndFlush(ByteBuffer(string: "last words"), promise: nil)
        channel.close(promise: nil)
        #expect(counter.flushes == 1)
        #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "last words")
        channel.embeddedEventLoop.run()
        #expect(counter.flushes == 1, "the deferred flush does nothing once the handler is gone")
    }

    @Test func largeWritesPassAsTheyAreAndOrderIsKept() throws {
        let (channel, _) = try fixture()
        let large = String(repeating: "x", count: FlushCoalescer.joinLimit)
        let promises = (0..<4).map { _ in channel.eventLoop.makePromise(of: Void.self) }
        channel.write(ByteBuffer(string: "1"), promise: promises[0])
        channel.write(ByteBuffer(string: "2"), promise: promises[1])
        channel.write(ByteBuffer(string: large), promise: promises[2])
        channel.writeAndFlush(ByteBuffer(string: "3"), promise: promises[3])
        channel.embeddedEventLoop.run()
        let sent = try (0..<4).compactMap { _ in
            try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }
        }
        #expect(sent == ["12", large, "3"])
        #expect(
            promises.allSatisfy { outcome(of: $0.futureResult).map { (try? $0.get()) != nil } == true },
            "every write's promise completes")
    }
}
