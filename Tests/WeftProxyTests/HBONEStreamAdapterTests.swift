import NIOCore
import NIOEmbedded
import NIOHTTP2
import Testing

@testable import WeftProxy

/// A stream channel: [recorder (towards HTTP/2), adapter, counter of inputClosed].
private struct AdapterFixture {
    let channel = EmbeddedChannel()
    let recorder = OutboundRecorder()
    let counter = InputClosedCounter()

    init() throws {
        try channel.pipeline.syncOperations.addHandlers([recorder, HBONEStreamAdapter(), counter])
        try channel.connect(to: SocketAddress(ipAddress: "198.18.0.1", port: 15008)).wait()
    }
}

@Suite struct HBONEStreamAdapterTests {
    @Test func dataFramesBecomeBytes() throws {
        let f = try AdapterFixture()
        try f.channel.writeInbound(Frame.data("hello "))
        try f.channel.writeInbound(Frame.data("tunnel"))
        #expect(try f.channel.inboundText() == "hello tunnel")
        #expect(f.counter.count == 0)
    }

    @Test func emptyDataIsNotForwarded() throws {
        let f = try AdapterFixture()
        try f.channel.writeInbound(Frame.data(""))
        #expect(try f.channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(try f.channel.readInbound(as: HTTP2Frame.FramePayload.self) == nil, "frames never pass the adapter")
    }

    @Test func endStreamOnDataIsOneInputClosedAfterTheBytes() throws {
        let f = try AdapterFixture()
        try f.channel.writeInbound(Frame.data("last", endStream: true))
        #expect(try f.channel.inboundText() == "last")
        #expect(f.counter.count == 1)
        // A second END_STREAM (a broken peer) or trailers after it change nothing.
        try f.channel.writeInbound(Frame.data("", endStream: true))
        try f.channel.writeInbound(Frame.headers([("grpc-status", "0")], endStream: true))
        #expect(f.counter.count == 1)
        #expect(f.channel.isActive, "END_STREAM half-closes; it does not close")
    }

    @Test func endStreamOnTrailersIsOneInputClosed() throws {
        let f = try AdapterFixture()
        try f.channel.writeInbound(Frame.data("body"))
        try f.channel.writeInbound(Frame.headers([("x-trailer", "1")], endStream: false))
        #expect(f.counter.count == 0, "headers without END_STREAM are no half-close")
        try f.channel.writeInbound(Frame.headers([("x-trailer", "2")], endStream: true))
        #expect(f.counter.count == 1)
        #expect(try f.channel.inboundText() == "body")
    }

    @Test func resetStreamClosesTheChannel() throws {
        let f = try AdapterFixture()
        try f.channel.writeInbound(HTTP2Frame.FramePayload.rstStream(.cancel))
        #expect(!f.channel.isActive)
        #expect(f.recorder.closeModes == [.all])
        #expect(f.counter.count == 0)
    }

    @Test func bytesBecomeDataFrames() throws {
        let f = try AdapterFixture()
        try f.channel.writeOutbound(ByteBuffer(string: "request"))
        let frames = try f.channel.outboundFrames()
        #expect(frames.map(\.dataText) == ["request"])
        #expect(frames.map(\.endsStream) == [false])
    }

    @Test func outputCloseSendsOneEmptyEndStreamAndNoReset() throws {
        let f = try AdapterFixture()
        let first = f.channel.close(mode: .output)
        #expect(try f.channel.outboundFrames().map { "\($0.dataText ?? "not DATA") \($0.endsStream)" } == [" true"])
        #expect(outcome(of: first).map { (try? $0.get()) != nil } == true)

        let second = f.channel.close(mode: .output)
        #expect(outcome(of: second).map { (try? $0.get()) != nil } == true, "closing output twice is no error")
        #expect(try f.channel.outboundFrames().isEmpty, "and sends nothing more")
        #expect(
            f.recorder.closeModes.isEmpty, "a half-close never reaches the stream channel, which would reset the stream"
        )
        #expect(f.channel.isActive)
    }

    @Test func fullClosePassesDown() throws {
        let f = try AdapterFixture()
        try f.channel.close(mode: .all).wait()
        #expect(f.recorder.closeModes == [.all])
        #expect(!f.channel.isActive)
        #expect(try f.channel.outboundFrames().allSatisfy { !$0.isReset && !$0.endsStream })
    }

    @Test func inputCloseIsUnsupported() throws {
        let f = try AdapterFixture()
        let closed = f.channel.close(mode: .input)
        #expect(failure(of: closed) as? ChannelError == .operationUnsupported)
        #expect(f.recorder.closeModes.isEmpty && f.channel.isActive)
    }
}

/// The inbound tunnel's relay on EmbeddedChannels: the HBONE stream downstream (behind an adapter), the workload's
/// socket upstream.
private struct TunnelRelayFixture {
    let relay: RelayFixture
    var stream: EmbeddedChannel { relay.downstream }
    var tcp: EmbeddedChannel { relay.upstream }
    var streamRecorder: OutboundRecorder { relay.downstreamRecorder }
    var tcpRecorder: OutboundRecorder { relay.upstreamRecorder }

    init() throws {
        relay = try RelayFixture(tunnelled: true)
    }
}

@Suite struct TunnelRelayTests {
    @Test func bytesFlowBothWaysAcrossTheAdapter() throws {
        let f = try TunnelRelayFixture()
        try f.stream.writeInbound(Frame.data("ping"))
        #expect(try f.tcp.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "ping"))
        try f.tcp.writeInbound(ByteBuffer(string: "pong!"))
        #expect(try f.stream.outboundFrames().map(\.dataText) == ["pong!"])

        _ = try f.tcp.finish(acceptAlreadyClosed: true)
        f.stream.embeddedEventLoop.run()
        #expect(!f.stream.isActive, "the workload's socket closing closes the stream")
        #expect(f.relay.stats == RelayStats(bytesFromDownstream: 4, bytesFromUpstream: 5))
    }

    @Test func tcpHalfCloseBecomesEndStreamAndTheOtherDirectionKeepsFlowing() throws {
        let f = try TunnelRelayFixture()
        try f.tcp.writeInbound(ByteBuffer(string: "last words"))
        f.tcp.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        let frames = try f.stream.outboundFrames()
        #expect(frames.map(\.dataText) == ["last words", ""])
        #expect(frames.map(\.endsStream) == [false, true])
        #expect(!frames.contains { $0.isReset })
        #expect(f.stream.isActive && f.tcp.isActive)

        try f.stream.writeInbound(Frame.data("still coming"))
        #expect(try f.tcp.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "still coming"))
    }

    @Test func endStreamBecomesTcpOutputCloseAndBothEndsCloseTheRelay() throws {
        let f = try TunnelRelayFixture()
        try f.stream.writeInbound(Frame.data("request", endStream: true))
        #expect(try f.tcp.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "request"))
        #expect(f.tcpRecorder.closeModes == [.output])
        #expect(f.tcp.isActive && f.stream.isActive)

        try f.tcp.writeInbound(ByteBuffer(string: "response"))
        #expect(try f.stream.outboundFrames().map(\.dataText) == ["response"])

        f.tcp.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        let frames = try f.stream.outboundFrames()
        #expect(frames.map(\.endsStream) == [true] && !frames.contains { $0.isReset })
        #expect(f.tcpRecorder.closeModes.first == .output)
        #expect(
            f.tcpRecorder.closeModes.dropFirst().allSatisfy { $0 == .all } && f.tcpRecorder.closeModes.count > 1,
            "both directions ended: the pair closes")
        // The socket closes; the stream's close is HTTP/2's once our END_STREAM is sent (a reset now could drop it).
        #expect(!f.streamRecorder.closeModes.contains(.all))
        #expect(!f.tcp.isActive && f.stream.isActive)
    }

    /// NIO reports a socket whose output was shut down and whose input then ends as closed (no `inputClosed`):
    /// the end of the workload's bytes must still reach the stream as END_STREAM, not as a reset.
    @Test func aWorkloadClosingAfterItsInputEndedEndsTheStreamWithEndStream() throws {
        let f = try TunnelRelayFixture()
        try f.stream.writeInbound(Frame.data("request", endStream: true))
        #expect(f.tcpRecorder.closeModes == [.output])
        try f.tcp.writeInbound(ByteBuffer(string: "response"))
        try f.tcp.close().wait()  // what a NIO socket does on EOF after shutdown(SHUT_WR)
        f.stream.embeddedEventLoop.run()
        let frames = try f.stream.outboundFrames()
        #expect(frames.first?.dataText == "response")
        #expect(frames.contains { $0.endsStream }, "END_STREAM, not a reset")
        // END_STREAM went both ways: closing is HTTP/2's, once ours is sent (the loopback tests see the stream close).
        #expect(!f.streamRecorder.closeModes.contains(.all))
    }

    @Test func tcpIsNotReadWhileTheStreamIsNotWritable() throws {
        let f = try TunnelRelayFixture()
        RelayFixture.expectReadsWaitForWritability(of: f.stream, reading: f.tcp, recorder: f.tcpRecorder)
    }

    @Test func streamIsNotReadWhileTcpIsNotWritable() throws {
        let f = try TunnelRelayFixture()
        RelayFixture.expectReadsWaitForWritability(of: f.tcp, reading: f.stream, recorder: f.streamRecorder)
    }

    @Test func resetStreamClosesTheTcpSide() throws {
        let f = try TunnelRelayFixture()
        try f.stream.writeInbound(HTTP2Frame.FramePayload.rstStream(.cancel))
        f.stream.embeddedEventLoop.run()
        #expect(f.tcpRecorder.closeModes == [.all])
        #expect(!f.tcp.isActive)
    }
}
