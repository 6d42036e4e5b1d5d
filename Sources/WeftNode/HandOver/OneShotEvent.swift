import NIOConcurrencyHelpers
import WeftCore

/// Something that happens once; waiters return when it has (or when cancelled).
final class OneShotEvent: Sendable {
    private enum Name: Hashable, Comparable, Sendable { case happened }
    private let readiness = Readiness<Name>()
    private let token: ReadinessToken<Name>
    private let fired = NIOLockedValueBox(false)

    init() { token = readiness.register(.happened) }

    /// True the first time.
    func fire() -> Bool {
        let first = fired.withLockedValue { fired in
            defer { fired = true }
            return !fired
        }
        if first { token.ready() }
        return first
    }

    func wait() async { await readiness.waitUntilReady(.happened) }
}
