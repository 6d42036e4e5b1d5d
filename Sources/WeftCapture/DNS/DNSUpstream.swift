import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// SO_MARK: the firewall mark on every packet of the socket (Linux, needs CAP_NET_ADMIN).
let socketMarkOption = ChannelOptions.Types.SocketOption(
    level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_MARK))

/// The UDP sockets that carry forwarded queries: one per address family, shared by all queries. Each query goes
/// out under a fresh random ID; an answer is accepted only from the server asked, with that ID and the same question.
final class DNSUDPUpstreams: Sendable {
    private let ipv4: DNSUDPUpstreamSocket?
    private let ipv6: DNSUDPUpstreamSocket?

    private init(ipv4: DNSUDPUpstreamSocket?, ipv6: DNSUDPUpstreamSocket?) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    /// Opens a socket for each family among `servers`. A family whose socket cannot be opened is logged and left
    /// out (its servers then count as failed).
    static func open(
        for servers: [SocketAddress], socketMark: UInt32?, maxOutstanding: Int, group: any EventLoopGroup,
        logger: Logger
    ) async throws -> DNSUDPUpstreams {
        func openSocket(_ wildcard: String) async -> DNSUDPUpstreamSocket? {
            do {
                return try await DNSUDPUpstreamSocket.open(
                    bindingTo: try SocketAddress(ipAddress: wildcard, port: 0), socketMark: socketMark,
                    maxOutstanding: maxOutstanding, group: group, logger: logger)
            } catch {
                logger.warning(
                    "cannot open upstream DNS socket", metadata: ["bind": "\(wildcard)", "error": "\(error)"])
                return nil
            }
        }
        let needsV4 = servers.contains { $0.protocol == .inet }
        let needsV6 = servers.contains { $0.protocol == .inet6 }
        let ipv4 = needsV4 ? await openSocket("0.0.0.0") : nil
        let ipv6 = needsV6 ? await openSocket("::") : nil
        return DNSUDPUpstreams(ipv4: ipv4, ipv6: ipv6)
    }

    func query(_ query: [UInt8], question: DNSQuestion, to server: SocketAddress, timeout: TimeAmount)
        -> EventLoopFuture<[UInt8]>
    {
        guard let socket = server.protocol == .inet6 ? ipv6 : ipv4 else {
            return MultiThreadedEventLoopGroup.singleton.any().makeFailedFuture(DNSForwardingError.noAddressFamily)
        }
        return socket.query(query, question: question, to: server, timeout: timeout)
    }

    func close() async {
        for socket in [ipv4, ipv6].compactMap({ $0 }) {
            try? await socket.channel.close()
        }
    }
}

final class DNSUDPUpstreamSocket: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<DNSUDPUpstreamHandler>

    private init(channel: any Channel, handler: NIOLoopBound<DNSUDPUpstreamHandler>) {
        self.channel = channel
        self.handler = handler
    }

    static func open(
        bindingTo address: SocketAddress, socketMark: UInt32?, maxOutstanding: Int, group: any EventLoopGroup,
        logger: Logger
    ) async throws -> DNSUDPUpstreamSocket {
        var bootstrap = DatagramBootstrap(group: group)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DNSUDPUpstreamHandler(maxOutstanding: maxOutstanding, logger: logger))
                }
            }
        if let socketMark {
            bootstrap = bootstrap.channelOption(
                socketMarkOption, value: SocketOptionValue(Int32(bitPattern: socketMark)))
        }
        let channel = try await bootstrap.bind(to: address).get()
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(
                try channel.pipeline.syncOperations.handler(type: DNSUDPUpstreamHandler.self),
                eventLoop: channel.eventLoop)
        }.get()
        return DNSUDPUpstreamSocket(channel: channel, handler: handler)
    }

    func query(_ query: [UInt8], question: DNSQuestion, to server: SocketAddress, timeout: TimeAmount)
        -> EventLoopFuture<[UInt8]>
    {
        channel.eventLoop.flatSubmit { [handler] in
            handler.value.send(query, question: question, to: server, timeout: timeout)
        }
    }
}

/// Tracks the queries outstanding on one upstream UDP socket, by the ID they were sent with.
final class DNSUDPUpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private struct Outstanding {
        var server: SocketAddress
        var question: DNSQuestion
        var promise: EventLoopPromise<[UInt8]>
        var timeout: Scheduled<Void>?
        var serial: UInt64
    }

    private let maxOutstanding: Int
    private let logger: Logger
    private var outstanding: [UInt16: Outstanding] = [:]
    private var context: ChannelHandlerContext?
    private var nextSerial: UInt64 = 0
    private var generator = SystemRandomNumberGenerator()

    init(maxOutstanding: Int, logger: Logger) {
        self.maxOutstanding = maxOutstanding
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll(DNSForwardingError.connectionClosed)
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(DNSForwardingError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors and the like on an unconnected socket say nothing about a particular query; timeouts handle them.
        logger.debug("upstream DNS socket error", metadata: ["error": "\(error)"])
    }

    func send(_ query: [UInt8], question: DNSQuestion, to server: SocketAddress, timeout: TimeAmount)
        -> EventLoopFuture<[UInt8]>
    {
        guard let context else {
            return MultiThreadedEventLoopGroup.singleton.any().makeFailedFuture(DNSForwardingError.notRunning)
        }
        let eventLoop = context.eventLoop
        guard outstanding.count < maxOutstanding, let id = freshID() else {
            return eventLoop.makeFailedFuture(DNSForwardingError.tooManyOutstandingQueries)
        }
        nextSerial += 1
        let serial = nextSerial
        let promise = eventLoop.makePromise(of: [UInt8].self)
        var entry = Outstanding(server: server, question: question, promise: promise, timeout: nil, serial: serial)
        entry.timeout = eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            finish(id: id, serial: serial, with: .failure(DNSForwardingError.timedOut))
        }
        outstanding[id] = entry
        var bytes = query
        bytes[0] = UInt8(id >> 8)
        bytes[1] = UInt8(id & 0xFF)
        let envelope = AddressedEnvelope(remoteAddress: server, data: context.channel.allocator.buffer(bytes: bytes))
        context.writeAndFlush(wrapOutboundOut(envelope)).assumeIsolated().whenFailure { [self] error in
            finish(id: id, serial: serial, with: .failure(error))
        }
        return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        guard let header = DNSHeader(prefixOf: bytes), header.isResponse, let entry = outstanding[header.id],
            entry.server == envelope.remoteAddress
        else { return }
        guard let (_, questions) = try? DNSMessage.decodeQuestions(bytes), questions.count == 1,
            questions[0].matches(entry.question)
        else {
            logger.debug(
                "ignoring upstream DNS answer to a different question",
                metadata: ["server": "\(envelope.remoteAddress)"])
            return
        }
        finish(id: header.id, serial: entry.serial, with: .success(bytes))
    }

    private func finish(id: UInt16, serial: UInt64, with result: Result<[UInt8], any Error>) {
        guard let entry = outstanding[id], entry.serial == serial else { return }
        outstanding[id] = nil
        entry.timeout?.cancel()
        entry.promise.completeWith(result)
    }

    private func failAll(_ error: any Error) {
        let entries = outstanding.values
        outstanding = [:]
        for entry in entries {
            entry.timeout?.cancel()
            entry.promise.fail(error)
        }
    }

    /// A random ID not in use; with at most 32,768 outstanding, 64 tries fail with probability below 2^-64.
    private func freshID() -> UInt16? {
        for _ in 0..<64 {
            let id = UInt16.random(in: .min ... .max, using: &generator)
            if outstanding[id] == nil { return id }
        }
        return nil
    }
}

/// Forwards one query over a new TCP connection and reads one answer.
enum DNSTCPUpstream {
    static let maxResponseSize = 65_535

    static func query(
        _ query: [UInt8], question: DNSQuestion, to server: SocketAddress, timeout: TimeAmount, socketMark: UInt32?,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<[UInt8]> {
        let promise = eventLoop.makePromise(of: [UInt8].self)
        var generator = SystemRandomNumberGenerator()
        let id = UInt16.random(in: .min ... .max, using: &generator)
        var renumbered = query
        renumbered[0] = UInt8(id >> 8)
        renumbered[1] = UInt8(id & 0xFF)
        let bytes = renumbered
        var bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(DNSTCPFrameDecoder(maxMessageSize: maxResponseSize)),
                        DNSTCPUpstreamAnswerHandler(id: id, question: question, promise: promise),
                    ])
                }
            }
        if let socketMark {
            bootstrap = bootstrap.channelOption(
                socketMarkOption, value: SocketOptionValue(Int32(bitPattern: socketMark)))
        }
        let deadline = eventLoop.scheduleTask(in: timeout) {
            promise.fail(DNSForwardingError.timedOut)
        }
        bootstrap.connect(to: server).whenComplete { result in
            switch result {
            case .success(let channel):
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
                channel.writeAndFlush(DNSTCPFrameDecoder.frame(bytes, allocator: channel.allocator), promise: nil)
            case .failure(let error):
                promise.fail(error)
            }
        }
        return promise.futureResult.always { _ in deadline.cancel() }
    }
}

/// Completes the promise with the first answer that has the expected ID and question.
final class DNSTCPUpstreamAnswerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let id: UInt16
    private let question: DNSQuestion
    private let promise: EventLoopPromise<[UInt8]>

    init(id: UInt16, question: DNSQuestion, promise: EventLoopPromise<[UInt8]>) {
        self.id = id
        self.question = question
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(unwrapInboundIn(data).readableBytesView)
        guard let header = DNSHeader(prefixOf: bytes), header.isResponse, header.id == id,
            let (_, questions) = try? DNSMessage.decodeQuestions(bytes), questions.count == 1,
            questions[0].matches(question)
        else { return }
        promise.succeed(bytes)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(DNSForwardingError.connectionClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}

/// Splits a TCP stream into DNS messages, each preceded by its 2-byte length (RFC 1035 §4.2.2).
struct DNSTCPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    let maxMessageSize: Int

    struct MessageTooLarge: Error, CustomStringConvertible {
        var size: Int
        var limit: Int
        var description: String { "DNS message over TCP of \(size) bytes exceeds the limit of \(limit) bytes" }
    }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return .needMoreData }
        guard Int(length) <= maxMessageSize else { throw MessageTooLarge(size: Int(length), limit: maxMessageSize) }
        guard buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        let message = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(wrapInboundOut(message))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.clear()
        return .needMoreData
    }

    static func frame(_ message: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: message.count + 2)
        buffer.writeInteger(UInt16(message.count))
        buffer.writeBytes(message)
        return buffer
    }
}
