import NIOConcurrencyHelpers
import WeftCore

/// Why a node process stops; decided once, by the first request.
enum NodeStopReason: Sendable, Equatable, CustomStringConvertible {
    /// SIGTERM or SIGINT: stop serving; the capture is removed unless `fail_closed`.
    case signal(String)
    /// Released for a successor (SIGUSR2, what `weft-node supervise` sends on a unit stop or restart) and none
    /// came within `handover_wait`: a stop like a signal's.
    case noSuccessor(waited: Duration)
    /// A successor accepts on this process's sockets: this one drains and keeps the capture.
    case handedOver(successor: Int32)

    /// Whether the capture stays whatever the settings say: the successor serves it.
    var keepsCapture: Bool {
        if case .handedOver = self { return true }
        return false
    }

    var description: String {
        switch self {
        case .signal(let name): "\(name)"
        case .noSuccessor(let waited): "released, and no successor came within \(waited)"
        case .handedOver(let pid): "handed over to pid \(pid)"
        }
    }
}

/// The node's stop: requested by a signal, the hand-over or the end of the successor wait; the first request is
/// the reason. Whoever requested it can wait until the stop is prepared (listeners closed, capture handled).
final class NodeStop: Sendable {
    private enum Phase: Hashable, Comparable, Sendable { case prepared }

    private let requests: AsyncStream<NodeStopReason>
    private let continuation: AsyncStream<NodeStopReason>.Continuation
    private let decided = NIOLockedValueBox<NodeStopReason?>(nil)
    private let phases = Readiness<Phase>()
    private let prepared: ReadinessToken<Phase>

    init() {
        (requests, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(4))
        prepared = phases.register(.prepared)
    }

    /// Asks the node to stop; a later request than the first changes nothing.
    func request(_ reason: NodeStopReason) {
        continuation.yield(reason)
    }

    /// The first request; nil when the task is cancelled first.
    func firstRequest() async -> NodeStopReason? {
        for await reason in requests {
            return decided.withLockedValue { decided in
                if decided == nil { decided = reason }
                return decided
            }
        }
        return nil
    }

    /// The reason, once decided.
    var reason: NodeStopReason? { decided.withLockedValue { $0 } }

    func markPrepared() { prepared.ready() }

    /// Returns once the stop is prepared (or the task is cancelled).
    func waitUntilPrepared() async { await phases.waitUntilReady(.prepared) }
}
