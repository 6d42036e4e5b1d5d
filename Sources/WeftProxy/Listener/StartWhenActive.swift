import NIOCore

/// Starts handling an accepted connection once it is registered and active. The child initializer runs before the
/// server channel registers the connection, and a relay set up on a channel that is not active yet would find it
/// "closed" (a fast upstream connect won that race for about one connection in five).
final class StartWhenActive: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let start: (any Channel) -> Void

    init(_ start: @escaping (any Channel) -> Void) {
        self.start = start
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        start(context.channel)
    }
}
