import NIOCore

/// Sits between TLS and HTTP/2 on an HBONE connection and defers its flushes to the end of the event loop's current
/// tick. The streams of one connection are relayed from different sockets, each flushing after its own read; deferred,
/// the frames of every stream that moved bytes in one tick leave in one TLS write and one system call.
///
/// A close first sends what is pending, so nothing written before it is lost; once the handler is gone (the channel
/// closed), a deferred flush does nothing.
final class FlushCoalescer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer

    private var flushPending = false

    func flush(context: ChannelHandlerContext) {
        guard !flushPending else { return }
        flushPending = true
        context.eventLoop.assumeIsolated().execute {
            self.flushNow(context: context)
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        flushNow(context: context)
        context.close(mode: mode, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        flushPending = false
    }

    private func flushNow(context: ChannelHandlerContext) {
        guard flushPending else { return }
        flushPending = false
        context.flush()
    }
}
