import NIOCore

/// What the two handlers of one relay share (one event loop, so no locking): the state machine, the byte counts,
/// and the completion, succeeded once both handlers left their pipelines.
final class RelayPair {
    var machine = RelayStateMachine()
    private var stats = RelayStats()
    private var handlersAlive = 0
    private let completion: EventLoopPromise<RelayStats>
    private let relayed: (UInt64, Bool) -> Void

    init(completion: EventLoopPromise<RelayStats>, relayed: @escaping (UInt64, Bool) -> Void) {
        self.completion = completion
        self.relayed = relayed
    }

    func add(_ count: UInt64, from side: RelayStateMachine.Side) {
        relayed(count, side == .downstream)
        switch side {
        case .downstream: stats.bytesFromDownstream &+= count
        case .upstream: stats.bytesFromUpstream &+= count
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
