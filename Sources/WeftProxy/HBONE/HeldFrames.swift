import NIOCore

/// Frames that arrived before the handlers above were ready: passed on once they first ask to read.
struct HeldFrames {
    private var frames: [NIOAny] = []
    private var released = false

    mutating func pass(_ data: NIOAny, context: ChannelHandlerContext) {
        if released {
            context.fireChannelRead(data)
        } else {
            frames.append(data)
        }
    }

    mutating func release(context: ChannelHandlerContext) {
        guard !released else { return }
        released = true
        let pending = frames
        frames = []
        guard !pending.isEmpty else { return }
        for frame in pending { context.fireChannelRead(frame) }
        context.fireChannelReadComplete()
    }
}
