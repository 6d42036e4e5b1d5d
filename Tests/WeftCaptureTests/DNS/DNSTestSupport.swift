import Foundation
import NIOCore
import NIOPosix
import Testing
import WeftCore

@testable import WeftCapture

enum DNSTestError: Error {
    case timedOut
    case dnsmasqDidNotStart(String)
}

/// Builds query bytes.
func makeQuery(
    _ name: String, _ type: DNSRecordType = .a, id: UInt16 = 0x4242, ednsSize: UInt16? = nil, opcode: DNSOpcode = .query
) throws -> [UInt8] {
    var message = DNSMessage(
        header: DNSHeader(id: id, opcode: opcode, recursionDesired: true),
        questions: [DNSQuestion(name: try DNSName(name), type: type)])
    if let ednsSize {
        message.additionals = [DNSEDNS(udpPayloadSize: ednsSize).record]
    }
    return try message.encoded()
}

/// A DNS client over real sockets, for tests.
enum DNSTestClient {
    /// Sends one datagram and returns the first answer, or nil when none arrives within `timeout`.
    static func udp(_ query: [UInt8], to server: IPSocketAddress, timeout: Duration = .seconds(5)) async throws
        -> [UInt8]?
    {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.any().makePromise(of: [UInt8]?.self)
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(FirstDatagramHandler(promise: promise))
                }
            }
            .bind(host: server.address.isIPv4 ? "127.0.0.1" : "::1", port: 0)
            .get()
        let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { promise.succeed(nil) }
        let envelope = AddressedEnvelope(remoteAddress: try SocketAddress(server), data: ByteBuffer(bytes: query))
        try await channel.writeAndFlush(envelope)
        let answer = try await promise.futureResult.get()
        deadline.cancel()
        try? await channel.close()
        return answer
    }

    /// Decodes the answer to a UDP query; fails the test when there is none.
    static func udpMessage(_ query: [UInt8], to server: IPSocketAddress, timeout: Duration = .seconds(5)) async throws
        -> DNSMessage
    {
        let bytes = try #require(try await udp(query, to: server, timeout: timeout))
        return try DNSMessage(decoding: bytes)
    }

    /// Writes `bytes` on one TCP connection and collects up to `expecting` length-framed answers; returns early when
    /// the server closes the connection or `timeout` passes.
    static func tcp(raw bytes: [UInt8], to server: IPSocketAddress, expecting: Int, timeout: Duration = .seconds(5))
        async throws -> TCPExchange
    {
        let group = MultiThreadedEventLoopGroup.singleton
        let eventLoop = group.any()
        let promise = eventLoop.makePromise(of: TCPExchange.self)
        let channel = try await ClientBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(DNSTCPFrameDecoder(maxMessageSize: 65_535)),
                        FrameCollector(expecting: expecting, promise: promise),
                    ])
                }
            }
            .connect(to: try SocketAddress(server))
            .get()
        let deadline = eventLoop.scheduleTask(in: TimeAmount(timeout)) { promise.fail(DNSTestError.timedOut) }
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
        defer { deadline.cancel() }
        let result = try await promise.futureResult.get()
        try? await channel.close()
        return result
    }

    static func tcp(_ queries: [[UInt8]], to server: IPSocketAddress, timeout: Duration = .seconds(5)) async throws
        -> [DNSMessage]
    {
        let framed = queries.flatMap { [UInt8(($0.count >> 8) & 0xFF), UInt8($0.count & 0xFF)] + $0 }
        let exchange = try await tcp(raw: framed, to: server, expecting: queries.count, timeout: timeout)
        return try exchange.answers.map { try DNSMessage(decoding: $0) }
    }

    struct TCPExchange: Sendable {
        var answers: [[UInt8]]
        /// True when the server closed the connection before all expected answers arrived.
        var closedByServer: Bool
    }
}

private final class FirstDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let promise: EventLoopPromise<[UInt8]?>
    init(promise: EventLoopPromise<[UInt8]?>) { self.promise = promise }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        promise.succeed(Array(unwrapInboundIn(data).data.readableBytesView))
    }
}

private final class FrameCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let expecting: Int
    let promise: EventLoopPromise<DNSTestClient.TCPExchange>
    var answers: [[UInt8]] = []
    init(expecting: Int, promise: EventLoopPromise<DNSTestClient.TCPExchange>) {
        self.expecting = expecting
        self.promise = promise
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        answers.append(Array(unwrapInboundIn(data).readableBytesView))
        if answers.count == expecting { promise.succeed(.init(answers: answers, closedByServer: false)) }
    }
    func channelInactive(context: ChannelHandlerContext) {
        promise.succeed(.init(answers: answers, closedByServer: true))
    }
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A loopback port that was free a moment ago (bound and released), for a child process to take.
func freeLoopbackPort() async throws -> UInt16 {
    let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(
        host: "127.0.0.1", port: 0
    ).get()
    let port = UInt16(channel.localAddress!.port!)
    try await channel.close()
    return port
}

/// A loopback address:port where nothing listens (UDP datagrams vanish, TCP connections are refused).
func deadLoopbackServer() async throws -> IPSocketAddress {
    IPSocketAddress(address: .v4(0x7F00_0001), port: try await freeLoopbackPort())
}

/// Debian's dnsmasq as an upstream server on 127.0.0.1, answering `example.test` with 198.18.0.53 and whatever the
/// extra arguments add. Stopped by its PID.
final class Dnsmasq {
    let address: IPSocketAddress
    private let process: Process

    private init(address: IPSocketAddress, process: Process) {
        self.address = address
        self.process = process
    }

    static func start(extraArguments: [String] = []) async throws -> Dnsmasq {
        var lastError = "not started"
        for _ in 0..<3 {
            let port = try await freeLoopbackPort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/dnsmasq")
            process.arguments =
                [
                    "--no-daemon", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--port=\(port)",
                    "--listen-address=127.0.0.1", "--bind-interfaces", "--address=/example.test/198.18.0.53",
                    "--pid-file=/tmp/weft-dns-dnsmasq-\(port).pid", "--user=root", "--log-facility=-",
                ] + extraArguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let server = Dnsmasq(address: IPSocketAddress(address: .v4(0x7F00_0001), port: port), process: process)
            for _ in 0..<50 where process.isRunning {
                if try await DNSTestClient.udp(
                    try makeQuery("example.test"), to: server.address, timeout: .milliseconds(100)) != nil
                {
                    return server
                }
            }
            lastError =
                process.isRunning ? "no answer on port \(port)" : "exited with status \(process.terminationStatus)"
            server.stop()
        }
        throw DNSTestError.dnsmasqDidNotStart(lastError)
    }

    func stop() {
        // SIGKILL: a child of the test runner may inherit a mask that blocks SIGTERM, and dnsmasq keeps no state.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: "/tmp/weft-dns-dnsmasq-\(address.port).pid")
    }
}

/// Runs `body` with a dnsmasq upstream, stopping it afterwards whether `body` throws or not.
func withDnsmasq<T>(extraArguments: [String] = [], _ body: (IPSocketAddress) async throws -> T) async throws -> T {
    let dnsmasq = try await Dnsmasq.start(extraArguments: extraArguments)
    do {
        let result = try await body(dnsmasq.address)
        dnsmasq.stop()
        return result
    } catch {
        dnsmasq.stop()
        throw error
    }
}

let loopbackAnyPort = IPSocketAddress(address: .v4(0x7F00_0001), port: 0)

/// Runs `body` with a started resolver listening on an ephemeral loopback port, shutting it down afterwards.
func withResolver<T>(
    _ configuration: DNSResolverConfiguration = DNSResolverConfiguration(listenAddresses: [loopbackAnyPort]),
    names: MeshNameTable = MeshNameTable(),
    _ body: (DNSResolver, IPSocketAddress) async throws -> T
) async throws -> T {
    let resolver = try DNSResolver(configuration: configuration)
    try await resolver.start()
    resolver.update(names: names)
    do {
        let result = try await body(resolver, resolver.localAddresses[0])
        await resolver.shutdown()
        return result
    } catch {
        await resolver.shutdown()
        throw error
    }
}
