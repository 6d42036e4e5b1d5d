import NIOCore
import NIOEmbedded
import Testing

@testable import WeftProxy

@Suite struct HTTP1RequestCounterTests {
    /// Feeds `text` in pieces of `step` bytes (0: all at once) and returns the requests counted.
    func count(_ text: String, step: Int = 0) -> (requests: Int, stopped: Bool) {
        var counter = HTTP1RequestCounter()
        let bytes = Array(text.utf8)
        var total = 0
        var start = 0
        let size = step == 0 ? max(1, bytes.count) : step
        while start < bytes.count {
            let end = min(bytes.count, start + size)
            total += counter.consume(ByteBuffer(bytes: bytes[start..<end]))
            start = end
        }
        return (total, counter.isStopped)
    }

    static let get = "GET / HTTP/1.1\r\nHost: backend.weft\r\n\r\n"
    static let post = "POST /items HTTP/1.1\r\nHost: b\r\nContent-Length: 11\r\n\r\nhello world"
    static let chunked =
        "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"

    @Test(arguments: [0, 1, 3, 7])
    func keepAliveAndPipelinedRequestsCountOnceEach(step: Int) {
        #expect(count(Self.get, step: step).requests == 1)
        #expect(count(Self.get + Self.get + Self.get, step: step).requests == 3)
        #expect(count(Self.post + Self.get, step: step).requests == 2, "a body that looks like a head is not one")
        #expect(count(Self.chunked + Self.get, step: step).requests == 2)
        #expect(count("HEAD / HTTP/1.0\r\n\r\n", step: step).requests == 1)
    }

    @Test func aBodyContainingARequestLineIsNotCounted() {
        let body = Self.get
        let post = "POST / HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        #expect(count(post).requests == 1)
    }

    @Test func whatIsNotHTTPStopsCountingAtOnce() {
        let tls = String(decoding: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01], as: UTF8.self)
        #expect(count(tls) == (0, true))
        #expect(count("SSH-2.0-OpenSSH_9.2\r\n") == (0, true))
        #expect(count("GETX / HTTP/1.1\r\n\r\n") == (0, true))
    }

    @Test func anUpgradeCountsItsRequestThenStops() {
        let upgrade = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + Self.get
        #expect(count(upgrade) == (1, true))
    }

    @Test func anEndlessHeadStopsCounting() {
        let endless = "GET / HTTP/1.1\r\n" + String(repeating: "X-Filler: 0123456789\r\n", count: 4000)
        #expect(count(endless) == (0, true))
    }

    @Test func theHandlerPassesBytesUnchangedAndCounts() throws {
        let counted = Counter()
        let channel = EmbeddedChannel(handler: HTTPRequestCounterHandler { counted.value += 1 })
        try channel.writeInbound(ByteBuffer(string: Self.get + Self.post))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: Self.get + Self.post))
        #expect(counted.value == 2)
        try channel.writeInbound(ByteBuffer(bytes: [0x16, 0x03]))
        _ = try channel.readInbound(as: ByteBuffer.self)
        #expect(counted.value == 2)
    }

    final class Counter: @unchecked Sendable {
        var value = 0
    }
}
