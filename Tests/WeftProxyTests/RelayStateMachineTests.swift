import Testing

@testable import WeftProxy

/// The relay's two directions with no channel: back-pressure, half-closes passed on, when the pair closes.
@Suite struct RelayStateMachineTests {
    @Test func aReadWaitsWhileThePartnerCannotTakeTheBytes() {
        var machine = RelayStateMachine()
        #expect(machine.read(on: .downstream, partnerWritable: true) == .read)
        #expect(machine.read(on: .downstream, partnerWritable: false) == .hold)
        #expect(machine.becameWritable(.downstream) == .none, "the held read is downstream's, not upstream's")
        #expect(machine.becameWritable(.upstream) == .readPartner)
        #expect(machine.becameWritable(.upstream) == .none, "a held read is done once")
    }

    @Test func aHalfCloseShutsThePartnersOutputAndTheOtherDirectionKeepsFlowing() {
        var machine = RelayStateMachine()
        #expect(machine.inputEnded(on: .downstream) == .shutPartnerOutput)
        #expect(machine.downstream == .inputEnded && machine.upstream == .outputShut)
        #expect(machine.read(on: .upstream, partnerWritable: true) == .read)
        #expect(machine.inputEnded(on: .downstream) == .none, "a second input-closed event changes nothing")
    }

    @Test func bothHalfClosesCloseThePair() {
        var machine = RelayStateMachine()
        _ = machine.inputEnded(on: .downstream)
        #expect(machine.inputEnded(on: .upstream) == .shutPartnerOutputAndCloseBoth)
        #expect(machine.downstream == .ended && machine.upstream == .ended)
    }

    @Test func aSocketWhoseOutputWasShutEndsItsInputWhenItCloses() {
        // Downstream half-closed: upstream's output is shut; the workload's socket then closes on its peer's FIN
        // without an input-closed event, which is the end of upstream's input.
        var machine = RelayStateMachine()
        _ = machine.inputEnded(on: .downstream)
        #expect(machine.inactive(.upstream) == .shutPartnerOutputAndCloseBoth)
        #expect(machine.downstream == .ended && machine.upstream == .ended)
    }

    @Test func aSideThatClosesWithItsOutputOpenClosesThePartner() {
        var open = RelayStateMachine()
        #expect(open.inactive(.upstream) == .closePartner)

        var halfClosed = RelayStateMachine()
        _ = halfClosed.inputEnded(on: .downstream)
        #expect(halfClosed.inactive(.downstream) == .closePartner, "its output was never shut: a reset, not an end")
    }

    @Test func anErrorClosesTheSideAndItsPartnerFollowsAsAReset() {
        var machine = RelayStateMachine()
        _ = machine.inputEnded(on: .downstream)
        #expect(machine.errorCaught(on: .upstream) == .close)
        #expect(machine.upstream == .failed)
        #expect(machine.inactive(.upstream) == .closePartner, "a failed side's end is no half-close")
    }
}
