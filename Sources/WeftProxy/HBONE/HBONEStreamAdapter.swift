import NIOCore
import NIOHTTP2

/// Makes an HTTP/2 stream look like a TCP connection to the handlers above it, so `RelayHandler` relays a tunnel
/// stream as it relays a socket: DATA frames in and out as bytes, END_STREAM as half-close both ways.
///
/// Inbound: a DATA payload becomes its bytes; END_STREAM (on DATA or trailers) becomes `ChannelEvent.inputClosed`;
/// RST_STREAM closes the channel. Outbound: bytes become DATA frames; `close(mode: .output)` sends an empty DATA
/// frame with END_STREAM instead of resetting the stream (what a stream channel does for any close); once END_STREAM
/// went both ways, a full close is left to HTTP/2, which closes the stream when ours has been sent.
public final class HBONEStreamAdapter: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTP2Frame.FramePayload
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = HTTP2Frame.FramePayload

    private var inputEnded = false
    private var outputEnded = false

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .data(let payload):
            if case .byteBuffer(let buffer) = payload.data, buffer.readableBytes > 0 {
                context.fireChannelRead(wrapInboundOut(buffer))
            }
            if payload.endStream { endInput(context: context) }
        case .headers(let payload):
            // Trailers: only END_STREAM matters to a byte stream.
            if payload.endStream { endInput(context: context) }
        case .rstStream:
            context.close(promise: nil)
        default:
            break
        }
    }

    private func endInput(context: ChannelHandlerContext) {
        guard !inputEnded else { return }
        inputEnded = true
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(buffer)))), promise: promise)
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch mode {
        case .output:
            guard !outputEnded else {
                promise?.succeed()
                return
            }
            outputEnded = true
            let end = HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))
            context.writeAndFlush(wrapOutboundOut(end), promise: promise)
        case .input:
            promise?.fail(ChannelError.operationUnsupported)
        case .all where inputEnded && outputEnded:
            // END_STREAM went both ways: HTTP/2 closes the stream once ours is sent. Closing now would reset it and
            // drop what flow control still holds.
            promise?.succeed()
        case .all:
            context.close(mode: .all, promise: promise)
        }
    }
}
