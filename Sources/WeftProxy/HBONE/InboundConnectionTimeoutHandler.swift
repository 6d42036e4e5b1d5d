import NIOCore
import NIOHTTP2
import NIOTLS

/// Carries out `InboundConnectionStateMachine` on an accepted HBONE connection: placed after the HTTP/2 handler, it
/// sees the TLS handshake's end and the streams open and close, and closes a connection that never finished its
/// handshake or has had no stream for the idle timeout (`onClose` learns why).
final class InboundConnectionTimeoutHandler: ChannelInboundHandler {
    typealias InboundIn = Any

    private let handshakeTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private let onClose: (InboundConnectionStateMachine.Reason) -> Void
    private var machine = InboundConnectionStateMachine()
    private var timer: Scheduled<Void>?

    init(
        handshakeTimeout: TimeAmount, idleTimeout: TimeAmount,
        onClose: @escaping (InboundConnectionStateMachine.Reason) -> Void
    ) {
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.onClose = onClose
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { perform(machine.accepted(), context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        perform(machine.accepted(), context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(machine.channelClosed(), context: context)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let tls as TLSUserEvent:
            if case .handshakeCompleted = tls { perform(machine.handshakeCompleted(), context: context) }
        case is NIOHTTP2StreamCreatedEvent: perform(machine.streamOpened(), context: context)
        case is StreamClosedEvent: perform(machine.streamClosed(), context: context)
        default: break
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func perform(_ action: InboundConnectionStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .armHandshakeDeadline:
            arm(in: handshakeTimeout, context: context)
        case .armIdleTimer:
            arm(in: idleTimeout, context: context)
        case .cancelTimer:
            timer?.cancel()
            timer = nil
        case .close(let reason):
            timer = nil
            onClose(reason)
            context.close(promise: nil)
        }
    }

    private func arm(in delay: TimeAmount, context: ChannelHandlerContext) {
        timer?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            handler.perform(handler.machine.timerFired(), context: context)
        }
    }
}
