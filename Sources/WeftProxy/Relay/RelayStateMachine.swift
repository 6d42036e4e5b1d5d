/// The two directions of one relay apart from its channels: reads held for back-pressure, half-closes passed on,
/// and when the pair is done. Each event on one side returns what the relay must do.
struct RelayStateMachine {
    enum Side: Sendable, Equatable {
        /// The accepted channel (a captured socket or an inbound HBONE stream).
        case downstream
        /// The channel the relay opened (a workload's socket or an outbound HBONE stream).
        case upstream

        var partner: Side { self == .downstream ? .upstream : .downstream }
    }

    /// One side's channel.
    enum SideState: Sendable, Equatable {
        /// Reading and writing.
        case open
        /// Its input ended (its peer half-closed); it still writes what the partner reads.
        case inputEnded
        /// Its output was shut because the partner's input ended; it still reads.
        case outputShut
        /// Both its directions ended.
        case ended
        /// An error was caught on it: it closes fully.
        case failed

        var inputEnded: Bool { self == .inputEnded || self == .ended }
        var outputShut: Bool { self == .outputShut || self == .ended }
    }

    private(set) var downstream = SideState.open
    private(set) var upstream = SideState.open
    /// A read asked for on that side while its partner could not take the bytes.
    private var readPending = (downstream: false, upstream: false)

    subscript(side: Side) -> SideState {
        get { side == .downstream ? downstream : upstream }
        set {
            if side == .downstream { downstream = newValue } else { upstream = newValue }
        }
    }

    private func isReadPending(_ side: Side) -> Bool {
        side == .downstream ? readPending.downstream : readPending.upstream
    }

    private mutating func setReadPending(_ side: Side, _ pending: Bool) {
        if side == .downstream { readPending.downstream = pending } else { readPending.upstream = pending }
    }

    private var bothSidesEnded: Bool { downstream == .ended && upstream == .ended }

    enum OnRead: Equatable {
        case read
        /// Wait until the partner is writable again.
        case hold
    }

    /// `side` asks to read (back-pressure: only while its partner can take the bytes).
    mutating func read(on side: Side, partnerWritable: Bool) -> OnRead {
        if partnerWritable { return .read }
        setReadPending(side, true)
        return .hold
    }

    enum OnWritable: Equatable {
        case none
        /// Do the read the partner held.
        case readPartner
    }

    /// `side` became writable again.
    mutating func becameWritable(_ side: Side) -> OnWritable {
        guard isReadPending(side.partner) else { return .none }
        setReadPending(side.partner, false)
        return .readPartner
    }

    enum OnInputEnded: Equatable {
        case none
        /// Flush the partner and shut its output (a FIN, or END_STREAM on a stream).
        case shutPartnerOutput
        /// Shut the partner's output, then close both: every direction ended.
        case shutPartnerOutputAndCloseBoth
        /// Every direction ended: close both.
        case closeBoth
    }

    /// `side`'s input ended (its peer half-closed).
    mutating func inputEnded(on side: Side) -> OnInputEnded {
        switch self[side] {
        case .open: self[side] = .inputEnded
        case .outputShut: self[side] = .ended
        case .inputEnded, .ended, .failed: break
        }
        let shut = shutOutput(of: side.partner)
        switch (shut, bothSidesEnded) {
        case (true, true): return .shutPartnerOutputAndCloseBoth
        case (true, false): return .shutPartnerOutput
        case (false, true): return .closeBoth
        case (false, false): return .none
        }
    }

    /// Marks `side`'s output shut; false when it already was (or the side failed).
    private mutating func shutOutput(of side: Side) -> Bool {
        switch self[side] {
        case .open: self[side] = .outputShut
        case .inputEnded: self[side] = .ended
        case .outputShut, .ended, .failed: return false
        }
        return true
    }

    enum OnInactive: Equatable {
        /// The side's input ended with it: pass that on as a half-close.
        case shutPartnerOutput
        case shutPartnerOutputAndCloseBoth
        /// Close the partner fully.
        case closePartner
    }

    /// `side`'s channel closed.
    ///
    /// A socket whose output the relay shut closes on its peer's FIN without an input-closed event: that is the
    /// end of its input, to be passed on as a half-close (END_STREAM), not as a reset that would drop the data
    /// still queued on the partner.
    mutating func inactive(_ side: Side) -> OnInactive {
        guard self[side] == .outputShut else { return .closePartner }
        self[side] = .ended
        guard shutOutput(of: side.partner) else { return .closePartner }
        return bothSidesEnded ? .shutPartnerOutputAndCloseBoth : .shutPartnerOutput
    }

    enum OnError: Equatable {
        /// Close the side's channel (its partner follows when it becomes inactive).
        case close
    }

    mutating func errorCaught(on side: Side) -> OnError {
        self[side] = .failed
        return .close
    }
}
