import NIOCore

/// Answers DNS queries arriving on a UDP listen socket, with at most `maxInFlight` queries in progress.
final class DNSUDPServerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let engine: DNSQueryEngine
    private let maxInFlight: Int
    private var inFlight = 0

    init(engine: DNSQueryEngine, maxInFlight: Int) {
        self.engine = engine
        self.maxInFlight = maxInFlight
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard inFlight < maxInFlight else {
            engine.count(\.dropped)
            return
        }
        inFlight += 1
        let client = envelope.remoteAddress
        engine.respond(to: Array(envelope.data.readableBytesView), transport: .udp, on: context.eventLoop)
            .assumeIsolated()
            .whenComplete { [self] result in
                inFlight -= 1
                guard case .success(let response?) = result, context.channel.isActive else { return }
                let reply = AddressedEnvelope(
                    remoteAddress: client, data: context.channel.allocator.buffer(bytes: response))
                context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
            }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A failed send to one client (e.g. ICMP unreachable) must not close the listen socket.
    }
}

/// Answers length-framed DNS queries on one TCP connection. Several queries may be in progress at once (answers go
/// out as they are ready, RFC 7766 §6.2.1.1); past `maxInFlight` it stops reading until one completes. The
/// connection closes after the idle timeout, or once the client has closed its side and every answer is sent.
final class DNSTCPServerHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let engine: DNSQueryEngine
    private let maxInFlight: Int
    private var inFlight = 0
    private var readDeferred = false
    private var inputClosed = false

    init(engine: DNSQueryEngine, maxInFlight: Int) {
        self.engine = engine
        self.maxInFlight = maxInFlight
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let query = Array(unwrapInboundIn(data).readableBytesView)
        inFlight += 1
        engine.respond(to: query, transport: .tcp, on: context.eventLoop)
            .assumeIsolated()
            .whenComplete { [self] result in
                inFlight -= 1
                if case .success(let response?) = result, context.channel.isActive {
                    context.writeAndFlush(
                        wrapOutboundOut(DNSTCPFrameDecoder.frame(response, allocator: context.channel.allocator)),
                        promise: nil)
                }
                if inputClosed && inFlight == 0 {
                    context.close(promise: nil)
                } else if readDeferred && inFlight < maxInFlight {
                    readDeferred = false
                    context.read()
                }
            }
    }

    func read(context: ChannelHandlerContext) {
        if inFlight >= maxInFlight {
            readDeferred = true
        } else {
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case IdleStateHandler.IdleStateEvent.read where inFlight == 0:
            context.close(promise: nil)
        case ChannelEvent.inputClosed:
            inputClosed = true
            if inFlight == 0 { context.close(promise: nil) }
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
