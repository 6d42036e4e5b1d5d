import Testing

@testable import WeftProxy

/// The pooled HBONE connection's life with no channel: stream counting, idleness, giving up, failure.
@Suite struct PooledConnectionStateMachineTests {
    struct Failure: Error, Equatable {}

    private func connected(streams: Int = 0) -> PooledConnectionStateMachine {
        var machine = PooledConnectionStateMachine()
        for _ in 0..<streams { _ = machine.streamStarted() }
        _ = machine.connected()
        return machine
    }

    @Test func streamsWaitingForTheConnectionAreCountedAndItIsReadyWhenItConnects() {
        var machine = PooledConnectionStateMachine()
        #expect(machine.streamStarted() == .none, "no idle timer runs while connecting")
        #expect(machine.streams == 1)
        #expect(machine.connected() == .ready)
        #expect(machine.streams == 1)
    }

    @Test func aConnectionWhoseStreamsAllEndedWhileConnectingIsIdleFromTheStart() {
        var machine = PooledConnectionStateMachine()
        _ = machine.streamStarted()
        #expect(machine.streamEnded() == .none)
        #expect(machine.connected() == .readyAndIdle)
        #expect(machine.idleTimerFired() == .close)
    }

    @Test func theLastStreamEndingStartsTheIdleTimerAndTheNextStreamStopsIt() {
        var machine = connected(streams: 2)
        #expect(machine.streamEnded() == .none)
        #expect(machine.streamEnded() == .startIdleTimer)
        #expect(machine.streamStarted() == .cancelIdleTimer)
        #expect(machine.streamStarted() == .none)
    }

    @Test func anIdleTimerThatFiresWithStreamsOpenDoesNothing() {
        var machine = connected(streams: 1)
        #expect(machine.idleTimerFired() == .none)
        _ = machine.streamEnded()
        #expect(machine.idleTimerFired() == .close)
    }

    @Test func itTakesStreamsUpToTheLimitAndNoneOnceClosed() {
        var machine = connected(streams: 1)
        #expect(machine.canTakeStream(limit: 2))
        _ = machine.streamStarted()
        #expect(!machine.canTakeStream(limit: 2))
        _ = machine.streamEnded()
        #expect(machine.channelClosed() == .cancelIdleTimerAndReportClosed)
        #expect(!machine.canTakeStream(limit: 2))
        #expect(machine.failure == nil, "closed, not failed")
        #expect(machine.streamEnded() == .none, "a closed connection starts no timer")
    }

    @Test func aMissingAnswerGivesUpAConnectionThatNeverAnsweredOnly() {
        var waiting = PooledConnectionStateMachine()
        _ = waiting.streamStarted()
        #expect(waiting.noAnswer() == .fail, "still connecting (a TCP or TLS handshake that never ends)")

        let silent = connected(streams: 1)
        #expect(silent.noAnswer() == .fail)

        var answering = connected(streams: 2)
        answering.answered()
        #expect(answering.noAnswer() == .none, "one slow workload does not condemn a connection that answers")
    }

    @Test func theFirstFailureStandsAndAChannelThatArrivesAfterItIsClosed() {
        var machine = PooledConnectionStateMachine()
        _ = machine.streamStarted()
        #expect(machine.failed(Failure()) == .failAndClose)
        #expect(machine.failure is Failure)
        #expect(machine.failed(HBONEError.closedBeforeResponse) == .none)
        #expect(machine.failure is Failure)
        #expect(machine.connected() == .closeChannel)
        #expect(!machine.canTakeStream(limit: 100))
        #expect(machine.noAnswer() == .none)
    }

    @Test func aFailureAfterTheChannelClosedChangesNothing() {
        var machine = connected()
        _ = machine.channelClosed()
        #expect(machine.failed(Failure()) == .none)
        #expect(machine.failure == nil)
    }

    @Test func aGoAwayTakesNoNewStreamAndClosesAfterTheLastOne() {
        var machine = connected(streams: 2)
        #expect(machine.goAwayReceived() == .none, "two streams still run")
        #expect(!machine.canTakeStream(limit: 100), "new streams go to another connection")
        #expect(machine.streams == 2)
        #expect(machine.streamEnded() == .none)
        #expect(machine.idleTimerFired() == .none, "a connection going away is not idle-closed, it is closed")
        #expect(machine.streamEnded() == .close)
        #expect(machine.noAnswer() == .none)
    }

    @Test func aGoAwayOnAnIdleConnectionClosesItAtOnceAndASecondOneChangesNothing() {
        var machine = connected()
        #expect(machine.goAwayReceived() == .cancelIdleTimerAndClose)
        #expect(machine.goAwayReceived() == .none)
        #expect(machine.channelClosed() == .cancelIdleTimerAndReportClosed)
        #expect(machine.goAwayReceived() == .none, "closed: nothing more to do")
    }
}
