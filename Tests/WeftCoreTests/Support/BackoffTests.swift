import Testing
import WeftCore

@Suite struct BackoffTests {
    @Test func doublesUpToTheCapAndStartsOverAfterASuccess() {
        var backoff = Backoff(base: .milliseconds(500), cap: .seconds(4), jitter: 0)
        let delays = (0..<6).map { _ in backoff.failed(random: 0.5) }
        #expect(delays == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(4), .seconds(4)])
        #expect(backoff.failures == 6)
        backoff.succeeded()
        #expect(backoff.failed(random: 0.5) == .milliseconds(500))
    }

    @Test func jitterStaysWithinItsShare() {
        var low = Backoff(base: .seconds(10), cap: .seconds(10), jitter: 0.2)
        var high = low
        #expect(abs((low.failed(random: 0) - .seconds(8)).timeInterval) < 1e-9)
        #expect(abs((high.failed(random: 1) - .seconds(12)).timeInterval) < 1e-9)
    }
}
