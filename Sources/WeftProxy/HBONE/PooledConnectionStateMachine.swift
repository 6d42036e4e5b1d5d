/// The life of one pooled HBONE connection apart from its channel and timers: how many streams it carries,
/// whether its peer ever answered, and when it is done. Each event returns what the connection must do.
struct PooledConnectionStateMachine {
    enum State {
        /// The TCP connection is being made; `streams` wait for it.
        case connecting(streams: Int)
        /// Connected: `streams` are open (none: the idle timer runs); `everAnswered` once a CONNECT on it was
        /// answered, proving the peer speaks TLS and HBONE.
        case connected(streams: Int, everAnswered: Bool)
        /// The peer said GOAWAY (its node drains, a restart hands its work to a successor): the `streams` open
        /// finish here, new ones go to another connection; it closes when the last one ends.
        case goingAway(streams: Int)
        /// Failed or closed: takes no stream. `failure` is what streams still waiting fail with (nil: closed
        /// without a failure, when idle or by the peer).
        case closed(failure: (any Error)?)
    }

    private(set) var state: State = .connecting(streams: 0)

    /// Streams counted on the connection (0 once it is closed).
    var streams: Int {
        switch state {
        case .connecting(let streams), .connected(let streams, _), .goingAway(let streams): streams
        case .closed: 0
        }
    }

    var failure: (any Error)? {
        if case .closed(let failure) = state { return failure }
        return nil
    }

    /// Whether a new stream may use the connection.
    func canTakeStream(limit: Int) -> Bool {
        switch state {
        case .connecting(let streams), .connected(let streams, _): streams < limit
        case .goingAway, .closed: false
        }
    }

    enum OnStreamStarted: Equatable {
        case none
        /// The connection was idle: it no longer is.
        case cancelIdleTimer
    }

    mutating func streamStarted() -> OnStreamStarted {
        switch state {
        case .connecting(let streams):
            state = .connecting(streams: streams + 1)
            return .none
        case .connected(let streams, let everAnswered):
            state = .connected(streams: streams + 1, everAnswered: everAnswered)
            return streams == 0 ? .cancelIdleTimer : .none
        case .goingAway(let streams):
            state = .goingAway(streams: streams + 1)
            return .none
        case .closed:
            return .none
        }
    }

    enum OnStreamEnded: Equatable {
        case none
        case startIdleTimer
        /// The last stream of a connection going away ended.
        case close
    }

    mutating func streamEnded() -> OnStreamEnded {
        switch state {
        case .connecting(let streams):
            state = .connecting(streams: max(streams - 1, 0))
            return .none
        case .connected(let streams, let everAnswered):
            let left = max(streams - 1, 0)
            state = .connected(streams: left, everAnswered: everAnswered)
            return left == 0 ? .startIdleTimer : .none
        case .goingAway(let streams):
            let left = max(streams - 1, 0)
            state = .goingAway(streams: left)
            return left == 0 ? .close : .none
        case .closed:
            return .none
        }
    }

    enum OnGoAway: Equatable {
        case none
        /// No stream is open: close now.
        case cancelIdleTimerAndClose
    }

    /// The peer sent GOAWAY.
    mutating func goAwayReceived() -> OnGoAway {
        guard case .connected(let streams, _) = state else { return .none }
        state = .goingAway(streams: streams)
        return streams == 0 ? .cancelIdleTimerAndClose : .none
    }

    enum OnConnected: Equatable {
        /// Hand out the multiplexer to the waiting streams.
        case ready
        /// Hand out the multiplexer; no stream waits any more, so the connection is idle from the start.
        case readyAndIdle
        /// The connection failed while connecting: close the channel that arrived late.
        case closeChannel
    }

    mutating func connected() -> OnConnected {
        switch state {
        case .connecting(let streams):
            state = .connected(streams: streams, everAnswered: false)
            return streams == 0 ? .readyAndIdle : .ready
        case .connected, .goingAway, .closed:
            return .closeChannel
        }
    }

    /// A CONNECT on this connection was answered.
    mutating func answered() {
        if case .connected(let streams, _) = state {
            state = .connected(streams: streams, everAnswered: true)
        }
    }

    enum OnNoAnswer: Equatable {
        case none
        /// No CONNECT was ever answered (a TLS handshake that never ends, a peer that accepts and says nothing):
        /// new streams must not wait on this connection.
        case fail
    }

    /// A CONNECT got no answer in time.
    func noAnswer() -> OnNoAnswer {
        switch state {
        case .connecting, .connected(_, everAnswered: false): .fail
        case .connected(_, everAnswered: true), .goingAway, .closed: .none
        }
    }

    enum OnIdleTimer: Equatable {
        case none
        case close
    }

    func idleTimerFired() -> OnIdleTimer {
        if case .connected(0, _) = state { return .close }
        return .none
    }

    enum OnFailed: Equatable {
        /// Already closed: the first failure stands.
        case none
        /// Fail the waiting streams and close the connection.
        case failAndClose
    }

    /// The connection, its handshake or its peer failed.
    mutating func failed(_ error: any Error) -> OnFailed {
        if case .closed = state { return .none }
        state = .closed(failure: error)
        return .failAndClose
    }

    enum OnChannelClosed: Equatable {
        /// Stop the idle timer and report the connection closed (it leaves the pool).
        case cancelIdleTimerAndReportClosed
    }

    mutating func channelClosed() -> OnChannelClosed {
        if case .closed = state {} else { state = .closed(failure: nil) }
        return .cancelIdleTimerAndReportClosed
    }
}
