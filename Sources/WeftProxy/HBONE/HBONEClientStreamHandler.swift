import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// The client end of one HBONE stream: sends the CONNECT, waits for the answer, then passes frames through to the
/// handlers above (an `HBONEStreamAdapter` and a relay). `established` completes with the outcome. Frames that
/// arrive with the answer are held until the layer above first asks to read, so none is lost while it is installed.
final class HBONEClientStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let request: HBONERequest
    private let established: EventLoopPromise<Void>
    private var answered = false
    private var held = HeldFrames()

    init(request: HBONERequest, established: EventLoopPromise<Void>) {
        self.request = request
        self.established = established
    }

    func channelActive(context: ChannelHandlerContext) {
        let headers = HTTP2Frame.FramePayload.headers(.init(headers: request.headers))
        context.writeAndFlush(wrapOutboundOut(headers), promise: nil)
        context.read()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else {
            held.pass(data, context: context)
            return
        }
        let payload = unwrapInboundIn(data)
        guard case .headers(let headers) = payload else {
            if case .rstStream = payload { fail(context: context, .closedBeforeResponse) }
            return
        }
        answered = true
        let status = HTTPResponseStatus(statusCode: headers.headers.first(name: ":status").flatMap { Int($0) } ?? 0)
        if (200..<300).contains(status.code) && !headers.endStream {
            established.succeed()
        } else {
            fail(
                context: context, .refused(status: status, reason: headers.headers.first(name: HBONEError.reasonHeader))
            )
        }
    }

    /// A frame before the answer (a WINDOW_UPDATE) may have used up the read asked for in `channelActive`: ask again,
    /// or the answer waits in the stream until something else reads.
    func channelReadComplete(context: ChannelHandlerContext) {
        if !answered { context.read() }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if answered { held.release(context: context) }
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !answered { fail(context: context, .closedBeforeResponse) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !answered { fail(context: context, .handshake("\(error)")) }
        context.fireErrorCaught(error)
    }

    private func fail(context: ChannelHandlerContext, _ error: HBONEError) {
        answered = true
        established.fail(error)
        context.close(promise: nil)
    }
}
