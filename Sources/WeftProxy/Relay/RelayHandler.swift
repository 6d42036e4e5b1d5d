import NIOCore

/// Byte counts of one relayed connection, as seen from the side that accepted it.
public struct RelayStats: Sendable, Equatable {
    /// Bytes read from the accepted (downstream) side and written to the upstream side.
    public var bytesFromDownstream: UInt64 = 0
    /// Bytes read from the upstream side and written to the downstream side.
    public var bytesFromUpstream: UInt64 = 0

    public init(bytesFromDownstream: UInt64 = 0, bytesFromUpstream: UInt64 = 0) {
        self.bytesFromDownstream = bytesFromDownstream
        self.bytesFromUpstream = bytesFromUpstream
    }
}

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
    private var pendingRead = false
    private var inputClosed = false
    private var outputClosed = false
    private var failed = false
    private let countsDownstream: Bool
    private let stats: RelayStatsBox

    private init(countsDownstream: Bool, stats: RelayStatsBox) {
        self.countsDownstream = countsDownstream
        self.stats = stats
    }

    /// Makes the two handlers of one relay: add `.downstream` to the accepted channel, `.upstream` to the other.
    /// `completion` succeeds with the byte counts when both channels are closed; `relayed` hears of every read as it
    /// passes (for live metrics).
    public static func matchedPair(
        completion: EventLoopPromise<RelayStats>,
        relayed: @escaping (_ count: UInt64, _ fromDownstream: Bool) -> Void = { _, _ in }
    ) -> (downstream: RelayHandler, upstream: RelayHandler) {
        let box = RelayStatsBox(completion: completion, relayed: relayed)
        let downstream = RelayHandler(countsDownstream: true, stats: box)
        let upstream = RelayHandler(countsDownstream: false, stats: box)
        downstream.partner = upstream
        upstream.partner = downstream
        return (downstream, upstream)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        stats.retain()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
        stats.release()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        stats.add(UInt64(buffer.readableBytes), downstream: countsDownstream)
        partner?.partnerWrite(buffer)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if outputClosed && !inputClosed && !failed {
            // A socket whose output we shut closes on its peer's FIN without an inputClosed event: that is the end
            // of its input, to be passed on as a half-close (END_STREAM), not as a reset that would drop the data
            // still queued on the partner.
            inputClosed = true
            partner?.partnerCloseOutput()
        } else {
            partner?.partnerCloseFully()
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inputClosed = true
            partner?.partnerCloseOutput()
            closeIfBothDirectionsEnded()
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failed = true
        context.close(promise: nil)
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
        }
    }

    public func read(context: ChannelHandlerContext) {
        if let partner, partner.partnerWritable {
            context.read()
        } else {
            pendingRead = true
        }
    }

    // MARK: called by the partner

    private var partnerWritable: Bool { context?.channel.isWritable ?? false }

    private func partnerWrite(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    private func partnerBecameWritable() {
        if pendingRead {
            pendingRead = false
            context?.read()
        }
    }

    private func partnerCloseOutput() {
        guard let context, !outputClosed else { return }
        outputClosed = true
        context.flush()
        context.close(mode: .output, promise: nil)
        closeIfBothDirectionsEnded()
    }

    private func partnerCloseFully() {
        context?.close(promise: nil)
    }

    private func closeIfBothDirectionsEnded() {
        guard let partner, inputClosed, outputClosed, partner.inputClosed, partner.outputClosed else { return }
        context?.close(promise: nil)
        partner.context?.close(promise: nil)
    }
}

/// Shared between the two handlers of one relay (same event loop, so no locking).
private final class RelayStatsBox {
    private var stats = RelayStats()
    private var handlersAlive = 0
    private let completion: EventLoopPromise<RelayStats>
    private let relayed: (UInt64, Bool) -> Void

    init(completion: EventLoopPromise<RelayStats>, relayed: @escaping (UInt64, Bool) -> Void) {
        self.completion = completion
        self.relayed = relayed
    }

    func add(_ count: UInt64, downstream: Bool) {
        relayed(count, downstream)
        if downstream {
            stats.bytesFromDownstream &+= count
        } else {
            stats.bytesFromUpstream &+= count
        }
    }

    func retain() { handlersAlive += 1 }

    func release() {
        handlersAlive -= 1
        if handlersAlive == 0 {
            completion.succeed(stats)
        }
    }
}
