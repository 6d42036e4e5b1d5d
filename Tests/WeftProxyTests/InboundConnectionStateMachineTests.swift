import Testing

@testable import WeftProxy

@Suite struct InboundConnectionStateMachineTests {
    @Test func theHandshakeDeadlineFiresOnlyWhileHandshaking() {
        var machine = InboundConnectionStateMachine()
        #expect(machine.accepted() == .armHandshakeDeadline)
        #expect(machine.accepted() == .none, "armed once")
        #expect(machine.timerFired() == .close(.noHandshake))
        #expect(machine.state == .closed)
        #expect(machine.handshakeCompleted() == .none, "too late")
    }

    @Test func aConnectionIsIdleOnlyWithoutStreams() {
        var machine = InboundConnectionStateMachine()
        _ = machine.accepted()
        #expect(machine.handshakeCompleted() == .armIdleTimer)
        #expect(machine.streamOpened() == .cancelTimer)
        #expect(machine.streamOpened() == .none)
        #expect(machine.timerFired() == .none, "a stale timer with streams open closes nothing")
        #expect(machine.streamClosed() == .none)
        #expect(machine.streamClosed() == .armIdleTimer)
        #expect(machine.streamClosed() == .none, "no stream to close")
        #expect(machine.timerFired() == .close(.idle))
    }

    @Test func aClosedConnectionDoesNothingMore() {
        var machine = InboundConnectionStateMachine()
        _ = machine.accepted()
        _ = machine.handshakeCompleted()
        #expect(machine.channelClosed() == .cancelTimer)
        #expect(machine.channelClosed() == .none)
        #expect(machine.streamOpened() == .none)
        #expect(machine.timerFired() == .none)
    }
}
