import NIOCore
import NIOHTTP2

/// Tells its owner when the peer sends GOAWAY on an HTTP/2 connection (it sits after the HTTP/2 handler, which
/// passes connection-level frames on); everything passes through.
final class GoAwayObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    private let received: () -> Void

    init(_ received: @escaping () -> Void) {
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway = unwrapInboundIn(data).payload { received() }
        context.fireChannelRead(data)
    }
}
