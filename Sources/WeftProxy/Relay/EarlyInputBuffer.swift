import NIOCore

/// Holds what an accepted socket delivers before its relay is in place. NIO reads a socket to its end as soon as the
/// peer closes, even while the channel is not reading, so a client that sends its request and half-closes (or just
/// closes) while its tunnel is being set up would otherwise lose its bytes and its FIN.
final class EarlyInputBuffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var held: [NIOAny] = []
    private var inputClosed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        held.append(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inputClosed = true
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Passes what was held to the handlers now behind it, then leaves the pipeline.
    private func release(context: ChannelHandlerContext) {
        let pending = held
        held = []
        for data in pending { context.fireChannelRead(data) }
        if !pending.isEmpty { context.fireChannelReadComplete() }
        if inputClosed { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// Releases the buffer of `channel`, if it has one; call on its event loop once the relay is installed.
    static func release(in channel: any Channel) {
        guard let context = try? channel.pipeline.syncOperations.context(handlerType: EarlyInputBuffer.self),
            let buffer = context.handler as? EarlyInputBuffer
        else { return }
        buffer.release(context: context)
    }
}
