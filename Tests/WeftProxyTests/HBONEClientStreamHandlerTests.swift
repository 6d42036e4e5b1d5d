import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHTTP2
import Testing
import WeftCore

@testable import WeftProxy

/// A client stream: [recorder, client handler, counter], nothing above reading yet (autoRead is off on real streams).
private struct ClientStreamFixture {
    let channel = EmbeddedChannel()
    let recorder = OutboundRecorder()
    let established: EventLoopPromise<Void>
    static let request = HBONERequest(authority: IPSocketAddress("198.18.0.12:8080")!, requestID: "req-42")

    init() throws {
        established = channel.eventLoop.makePromise()
        let handler = HBONEClientStreamHandler(request: Self.request, established: established)
        try channel.pipeline.syncOperations.addHandlers([recorder, handler])
        try channel.connect(to: SocketAddress(ipAddress: "198.18.0.12", port: 15008)).wait()
    }

    var refusal: HBONEError? { failure(of: established.futureResult) as? HBONEError }
}

@Suite struct HBONEClientStreamHandlerTests {
    @Test func sendsTheConnectHeadersWhenTheStreamBecomesActive() throws {
        let f = try ClientStreamFixture()
        let frames = try f.channel.outboundFrames()
        #expect(frames.count == 1)
        let headers = try #require(frames.first?.headerFields)
        #expect(try HBONERequest(parsing: headers) == ClientStreamFixture.request)
        #expect(frames.first?.endsStream == false, "the CONNECT stream stays open for the tunnel's bytes")
        #expect(f.recorder.reads == 1, "it asks for the answer itself")
        #expect(outcome(of: f.established.futureResult) == nil, "not established before the answer")
    }

    @Test func twoHundredEstablishesAndLaterFramesWaitForTheFirstReadFromAbove() throws {
        let f = try ClientStreamFixture()
        try f.channel.writeInbound(Frame.headers([(":status", "200")]))
        #expect(outcome(of: f.established.futureResult).map { (try? $0.get()) != nil } == true)
        #expect(
            try f.channel.readInbound(as: HTTP2Frame.FramePayload.self) == nil, "the answer itself is not passed up")

        try f.channel.writeInbound(Frame.data("banner"))
        #expect(try f.channel.readInbound(as: HTTP2Frame.FramePayload.self) == nil, "held until the layer above reads")

        f.channel.read()
        #expect(try f.channel.readInbound(as: HTTP2Frame.FramePayload.self)?.dataText == "banner")
        try f.channel.writeInbound(Frame.data("more", endStream: true))
        let later = try f.channel.readInbound(as: HTTP2Frame.FramePayload.self)
        #expect(later?.dataText == "more" && later?.endsStream == true, "after the first read frames pass at once")
        #expect(f.channel.isActive)
    }

    /// A WINDOW_UPDATE can reach the stream before the answer and use up its one read: without asking again, the
    /// 200 stayed buffered in the stream until something else read (under load, wrk connections hung on it).
    @Test func aFrameBeforeTheAnswerDoesNotUseUpTheReadForTheAnswer() throws {
        let f = try ClientStreamFixture()
        #expect(f.recorder.reads == 1)
        try f.channel.writeInbound(HTTP2Frame.FramePayload.windowUpdate(windowSizeIncrement: 1 << 20))
        #expect(f.recorder.reads == 2, "it asks again for the answer")
        #expect(outcome(of: f.established.futureResult) == nil)
        try f.channel.writeInbound(Frame.headers([(":status", "200")]))
        #expect(outcome(of: f.established.futureResult).map { (try? $0.get()) != nil } == true)
        #expect(f.recorder.reads == 2, "once answered, the layer above decides when to read")
        #expect(
            try f.channel.readInbound(as: HTTP2Frame.FramePayload.self) == nil, "the window update is not passed up")
    }

    @Test func twoHundredWithEndStreamIsARefusal() throws {
        let f = try ClientStreamFixture()
        try f.channel.writeInbound(Frame.headers([(":status", "200")], endStream: true))
        #expect(f.refusal == .refused(status: .ok, reason: nil), "a tunnel that is already over is no tunnel")
        #expect(!f.channel.isActive)
    }

    @Test(arguments: [403, 404, 503])
    func aRefusalFailsWithTheStatusAndTheReason(status: Int) throws {
        let f = try ClientStreamFixture()
        let reason = "denied for spiffe://weft.local/ns/default/svc/frontend: denied by intention frontend>backend"
        try f.channel.writeInbound(
            Frame.headers([(":status", String(status)), (HBONEError.reasonHeader, reason)], endStream: true))
        #expect(f.refusal == .refused(status: HTTPResponseStatus(statusCode: status), reason: reason))
        #expect(!f.channel.isActive, "a refused stream is closed")
        #expect(f.recorder.closeModes == [.all])
    }

    @Test func aStreamClosedBeforeTheAnswerFailsAsSuch() throws {
        let f = try ClientStreamFixture()
        try f.channel.close().wait()
        #expect(f.refusal == .closedBeforeResponse)
    }

    @Test func aResetBeforeTheAnswerFailsAsClosedBeforeResponse() throws {
        let f = try ClientStreamFixture()
        try f.channel.writeInbound(HTTP2Frame.FramePayload.rstStream(.refusedStream))
        #expect(f.refusal == .closedBeforeResponse)
        #expect(!f.channel.isActive)
    }

    @Test func anErrorBeforeTheAnswerIsAHandshakeFailure() throws {
        let f = try ClientStreamFixture()
        f.channel.pipeline.fireErrorCaught(ChannelError.connectTimeout(.seconds(5)))
        guard case .handshake = f.refusal else {
            Issue.record("expected a handshake failure, got \(String(describing: f.refusal))")
            return
        }
        #expect(!f.channel.isActive)
    }
}
