/// The life of one accepted HBONE connection apart from its channel and timer: the TLS handshake must end within the
/// handshake timeout, and a connection without streams closes after the idle timeout. Each event returns what the
/// connection must do.
struct InboundConnectionStateMachine {
    enum State: Equatable {
        /// Not active yet.
        case new
        /// Accepted; the TLS handshake runs (the handshake deadline is armed).
        case handshaking
        /// Handshake done: `streams` are open (none: the idle timer runs).
        case established(streams: Int)
        /// Closed by a timer or by the peer.
        case closed
    }

    enum Action: Equatable {
        case none
        case armHandshakeDeadline
        case armIdleTimer
        case cancelTimer
        /// Close the connection, saying why.
        case close(Reason)
    }

    enum Reason: Equatable {
        case noHandshake
        case idle
    }

    private(set) var state: State = .new

    mutating func accepted() -> Action {
        guard state == .new else { return .none }
        state = .handshaking
        return .armHandshakeDeadline
    }

    mutating func handshakeCompleted() -> Action {
        guard state == .handshaking else { return .none }
        state = .established(streams: 0)
        return .armIdleTimer
    }

    mutating func streamOpened() -> Action {
        guard case .established(let streams) = state else { return .none }
        state = .established(streams: streams + 1)
        return streams == 0 ? .cancelTimer : .none
    }

    mutating func streamClosed() -> Action {
        guard case .established(let streams) = state, streams > 0 else { return .none }
        state = .established(streams: streams - 1)
        return streams == 1 ? .armIdleTimer : .none
    }

    /// The armed timer fired.
    mutating func timerFired() -> Action {
        switch state {
        case .handshaking:
            state = .closed
            return .close(.noHandshake)
        case .established(let streams) where streams == 0:
            state = .closed
            return .close(.idle)
        case .new, .established, .closed:
            return .none
        }
    }

    mutating func channelClosed() -> Action {
        guard state != .closed else { return .none }
        state = .closed
        return .cancelTimer
    }
}
