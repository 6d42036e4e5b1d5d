import NIOCore
import NIOEmbedded
import NIOHTTP2
import Testing
import WeftCore

@testable import WeftProxy

/// The server's per-stream decision before any socket is opened: every refusal is answered with its status, the
/// reason header and END_STREAM, closes the stream, and writes one access-log line.
private struct InboundStreamFixture {
    let channel = EmbeddedChannel()
    let accessLines: @Sendable () -> [String]
    let runtime: ProxyRuntime
    static let localEndpoint = IPSocketAddress("198.18.0.12:8080")!

    init(identity: SPIFFEID? = Mesh.frontendID, policy: AuthorizationPolicy = AuthorizationPolicy()) throws {
        let config = LoopbackMesh.config(endpoint: Self.localEndpoint, policy: policy, hbonePort: 15008)
        let made = Mesh.runtime(config)
        runtime = made.runtime
        accessLines = made.accessLines
        let peer = PeerIdentity()
        peer.identity.withLockedValue { $0 = identity }
        try channel.pipeline.syncOperations.addHandler(
            HBONEInboundStreamHandler(client: "198.18.0.11:40000", peer: peer, runtime: runtime))
        try channel.connect(to: SocketAddress(ipAddress: "198.18.0.11", port: 40000)).wait()
    }

    /// Sends `request` and returns the answer's status and reason.
    func answer(to request: HTTP2Frame.FramePayload) throws -> (status: String?, reason: String?, endStream: Bool) {
        try channel.writeInbound(request)
        channel.embeddedEventLoop.run()
        let frames = try channel.outboundFrames()
        #expect(frames.count == 1, "one answer")
        let headers = frames.first?.headerFields
        return (
            headers?.first(name: ":status"), headers?.first(name: HBONEError.reasonHeader),
            frames.first?.endsStream ?? false
        )
    }

    var entries: [AccessLogEntry] { Mesh.entries(accessLines()) }
}

@Suite struct HBONEInboundStreamHandlerTests {
    @Test func aGetIsAnswered405() throws {
        let f = try InboundStreamFixture()
        let answer = try f.answer(
            to: Frame.headers([
                (":method", "GET"), (":path", "/"), (":scheme", "https"), (":authority", "198.18.0.12:8080"),
            ]))
        #expect(answer.status == "405" && answer.endStream)
        #expect(answer.reason?.contains("only CONNECT") == true)
        #expect(!f.channel.isActive)
        #expect(f.entries.map(\.result) == [.refused])
    }

    @Test(arguments: [
        [(":method", "CONNECT"), (":authority", "198.18.0.12:8080"), (":protocol", "websocket")],
        [(":method", "CONNECT"), (":authority", "backend.weft:80")],
        [(":method", "CONNECT")],
    ])
    func malformedConnectsAreAnswered400(fields: [(String, String)]) throws {
        let f = try InboundStreamFixture()
        let answer = try f.answer(to: Frame.headers(fields))
        #expect(answer.status == "400" && answer.endStream && answer.reason != nil)
        #expect(!f.channel.isActive)
        #expect(f.entries.map(\.result) == [.refused])
    }

    @Test func aConnectionWithoutVerifiedIdentityIsAnswered403() throws {
        let f = try InboundStreamFixture(identity: nil)
        let answer = try f.answer(to: Frame.connect("198.18.0.12:8080"))
        #expect(answer.status == "403")
        #expect(answer.reason?.contains("no verified client identity") == true)
    }

    @Test(arguments: ["127.0.0.2:8080", "198.18.0.12:8081", "[2001:2::12]:8080"])
    func anAuthorityThatIsNoLocalEndpointIsAnswered404(authority: String) throws {
        let f = try InboundStreamFixture()
        let answer = try f.answer(to: Frame.connect(authority, requestID: "req-404"))
        #expect(answer.status == "404")
        #expect(answer.reason == "\(authority) is not an endpoint on this node")
        let entry = try #require(f.entries.first)
        #expect(entry.result == .refused && entry.direction == .inbound)
        #expect(entry.requestID == "req-404")
        #expect(entry.sourceIdentity == Mesh.frontendID.description)
        #expect(entry.sourceService == "frontend")
        #expect(entry.originalDestination == authority)
    }

    @Test(arguments: [
        (Mesh.denyFrontendToBackend, "denied by intention frontend>backend"),
        (Mesh.stopAll, "all traffic is stopped"),
    ])
    func aDeniedCallIsAnswered403WithTheReason(policy: AuthorizationPolicy, because: String) throws {
        let f = try InboundStreamFixture(policy: policy)
        let answer = try f.answer(to: Frame.connect("198.18.0.12:8080"))
        #expect(answer.status == "403")
        #expect(answer.reason == "denied for \(Mesh.frontendID): \(because)")
        let entry = try #require(f.entries.first)
        #expect(entry.result == .refused && entry.destinationService == "backend")
        #expect(entry.reason?.hasSuffix(because) == true)
        #expect(
            f.runtime.metrics.exposition().contains(
                #"weft_tcp_connections_denied_total{reporter="destination",source_service="frontend",destination_service="backend"} 1"#
            ))
    }

    @Test func aFirstFrameThatIsNoHeadersClosesTheStream() throws {
        let f = try InboundStreamFixture()
        try f.channel.writeInbound(Frame.data("no request"))
        #expect(!f.channel.isActive)
        #expect(try f.channel.outboundFrames().isEmpty)
    }
}
