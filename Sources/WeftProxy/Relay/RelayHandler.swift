import NIOCore

/// Copies bytes between two channels on the same event loop, both ways.
///
/// Back-pressure: a side reads only while its partner is writable. Half-close: when one side's input ends, the
/// partner's output is shut down and the other direction keeps flowing; the pair closes once both directions ended
/// or either side fails. Both channels need `allowRemoteHalfClosure`.
public final class RelayHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = Never
    public typealias OutboundIn = Never
    public typealias OutboundOut = ByteBuffer

    private var partner: RelayHandler?
    private var context: ChannelHandlerContext?
    private let side: RelayStateMachine.Side
    private let pair: RelayPair

    private init(side: RelayStateMachine.Side, pair: RelayPair) {
        self.side = side
        self.pair = pair
    }

    /// Makes the two handlers of one relay: add `.downstream` to the accepted channel, `.upstream` to the other.
    /// `completion` succeeds with the byte counts when both channels are closed; `relayed` hears of every read as it
    /// passes (for live metrics).
    public static func matchedPair(
        completion: EventLoopPromise<RelayStats>,
        relayed: @escaping (_ count: UInt64, _ fromDownstream: Bool) -> Void = { _, _ in }
    ) -> (downstream: RelayHandler, upstream: RelayHandler) {
        let pair = RelayPair(completion: completion, relayed: relayed)
        let downstream = RelayHandler(side: .downstream, pair: pair)
        let upstream = RelayHandler(side: .upstream, pair: pair)
        downstream.partner = upstream
        upstream.partner = downstream
        return (downstream, upstream)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        pair.retain()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
        pair.release()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        pair.add(UInt64(buffer.readableBytes), from: side)
        partner?.context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        switch pair.machine.inactive(side) {
        case .shutPartnerOutput:
            partner?.shutOutput()
        case .shutPartnerOutputAndCloseBoth:
            partner?.shutOutput()
            closeBoth()
        case .closePartner:
            partner?.context?.close(promise: nil)
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case ChannelEvent.inputClosed = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        switch pair.machine.inputEnded(on: side) {
        case .none:
            break
        case .shutPartnerOutput:
            partner?.shutOutput()
        case .shutPartnerOutputAndCloseBoth:
            partner?.shutOutput()
            closeBoth()
        case .closeBoth:
            closeBoth()
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch pair.machine.errorCaught(on: side) {
        case .close: context.close(promise: nil)
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        guard context.channel.isWritable else { return }
        switch pair.machine.becameWritable(side) {
        case .none: break
        case .readPartner: partner?.context?.read()
        }
    }

    public func read(context: ChannelHandlerContext) {
        let partnerWritable = partner?.context?.channel.isWritable ?? false
        switch pair.machine.read(on: side, partnerWritable: partnerWritable) {
        case .read: context.read()
        case .hold: break
        }
    }

    private func shutOutput() {
        guard let context else { return }
        context.flush()
        context.close(mode: .output, promise: nil)
    }

    private func closeBoth() {
        context?.close(promise: nil)
        partner?.context?.close(promise: nil)
    }
}
