import Testing
import WeftCore

@Suite struct ReadinessTests {
    enum Part: String, Comparable, CaseIterable, Sendable {
        case listeners, capture, config

        static func < (lhs: Self, rhs: Self) -> Bool { allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)! }
    }

    @Test func aNameIsPendingWhileAnyOfItsTokensIs() {
        let readiness = Readiness<Part>()
        let proxy = readiness.register(.listeners)
        let dns = readiness.register(.listeners)
        let capture = readiness.register(.capture)
        #expect(readiness.pending == [.listeners, .capture])
        proxy.ready()
        #expect(readiness.pending == [.listeners, .capture])
        dns.ready()
        #expect(readiness.pending == [.capture])
        capture.ready()
        #expect(readiness.pending.isEmpty)
        capture.set(ready: false)
        #expect(readiness.pending == [.capture], "a token may become pending again")
    }

    @Test func waitingEndsWhenTheLastTokenIsReady() async {
        let readiness = Readiness<Part>()
        let first = readiness.register(.listeners)
        let second = readiness.register(.listeners)
        await readiness.waitUntilReady(.config)  // nothing registered: at once
        async let waited: Void = readiness.waitUntilReady(.listeners)
        first.ready()
        second.ready()
        await waited
        #expect(readiness.pending.isEmpty)
    }

    @Test func waitingEndsWhenTheTaskIsCancelled() async {
        let readiness = Readiness<Part>()
        _ = readiness.register(.capture)
        let waiting = Task { await readiness.waitUntilReady(.capture) }
        waiting.cancel()
        await waiting.value
        #expect(readiness.pending == [.capture])
    }
}
