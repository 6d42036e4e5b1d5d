import NIOCore

/// Sits between TLS and HTTP/2 on an HBONE connection, joins small writes and defers flushes to the end of the event
/// loop's current tick.
///
/// The streams of one connection are relayed from different sockets, each flushing after its own read, and HTTP/2
/// writes a DATA frame's header and payload separately; TLS makes a record of every write. Joined and deferred, the
/// frames of every stream that moved bytes in one tick leave as few records in one write and one system call. Writes
/// of at least `joinLimit` bytes pass as they are (bulk transfers gain nothing from a copy).
///
/// A close first sends what is pending, so nothing written before it is lost; once the handler is gone (the channel
/// closed), what was pending fails and a deferred flush does nothing.
final class FlushCoalescer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    static let joinLimit = 16 << 10

    private var joined: ByteBuffer?
    private var joinedPromises: [EventLoopPromise<Void>] = []
    private var flushPending = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(let buffer) = unwrapOutboundIn(data), buffer.readableBytes < Self.joinLimit else {
            writeJoined(context: context)
            context.write(data, promise: promise)
            return
        }
        if joined == nil {
            var fresh = context.channel.allocator.buffer(capacity: Swift.max(4096, buffer.readableBytes))
            fresh.writeImmutableBuffer(buffer)
            joined = fresh
        } else {
            joined!.writeImmutableBuffer(buffer)
        }
        if let promise { joinedPromises.append(promise) }
        if joined!.readableBytes >= Self.joinLimit { writeJoined(context: context) }
    }

    func flush(context: ChannelHandlerContext) {
        guard !flushPending else { return }
        flushPending = true
        context.eventLoop.assumeIsolated().execute {
            self.flushNow(context: context)
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        writeJoined(context: context)
        flushNow(context: context)
        context.close(mode: mode, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        flushPending = false
        joined = nil
        let promises = joinedPromises
        joinedPromises = []
        for promise in promises { promise.fail(ChannelError.ioOnClosedChannel) }
    }

    private func flushNow(context: ChannelHandlerContext) {
        guard flushPending else { return }
        flushPending = false
        writeJoined(context: context)
        context.flush()
    }

    private func writeJoined(context: ChannelHandlerContext) {
        guard let buffer = joined else { return }
        joined = nil
        let promises = joinedPromises
        joinedPromises = []
        let promise: EventLoopPromise<Void>?
        switch promises.count {
        case 0: promise = nil
        case 1: promise = promises[0]
        default:
            let all = context.eventLoop.makePromise(of: Void.self)
            all.futureResult.whenComplete { result in
                for promise in promises { promise.completeWith(result) }
            }
            promise = all
        }
        context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
    }
}
