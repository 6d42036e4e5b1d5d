import NIOConcurrencyHelpers
import NIOCore
import WeftCore

/// The connections the proxy is relaying right now, with who talks to whom, so that a policy change reaches them:
/// one the new policy denies is closed at once ("stop all traffic" stops open connections too). Also what a
/// draining node waits for.
public final class LiveConnections: Sendable {
    /// One relayed connection.
    public struct Entry: Sendable {
        public var source: ServiceName?
        public var destination: ServiceName
        /// Closes the connection; `reason` goes to its access-log line.
        public var close: @Sendable (_ reason: String) -> Void
    }

    private struct State {
        var next: UInt64 = 0
        var entries: [UInt64: Entry] = [:]
        var drained: [CheckedContinuation<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Registers a connection; call the returned closure when it ends.
    public func add(_ entry: Entry) -> @Sendable () -> Void {
        let id = state.withLockedValue { state in
            state.next += 1
            state.entries[state.next] = entry
            return state.next
        }
        return { [self] in
            let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
                state.entries[id] = nil
                guard state.entries.isEmpty else { return [] }
                defer { state.drained = [] }
                return state.drained
            }
            waiters.forEach { $0.resume() }
        }
    }

    public var count: Int { state.withLockedValue { $0.entries.count } }

    /// Closes every connection `policy` no longer allows; returns how many.
    public func enforce(_ policy: AuthorizationPolicy) -> Int {
        let denied = state.withLockedValue { state in
            state.entries.values.compactMap { entry -> (Entry, String)? in
                let decision = policy.evaluate(source: entry.source, destination: entry.destination)
                return decision.allowed ? nil : (entry, "closed by a policy change: \(decision.reason)")
            }
        }
        for (entry, reason) in denied { entry.close(reason) }
        return denied.count
    }

    /// Closes every connection (the end of a drain).
    public func closeAll(reason: String) {
        let all = state.withLockedValue { Array($0.entries.values) }
        for entry in all { entry.close(reason) }
    }

    /// Returns once no connection is open.
    public func waitUntilEmpty() async {
        await withCheckedContinuation { continuation in
            let empty = state.withLockedValue { state in
                if state.entries.isEmpty { return true }
                state.drained.append(continuation)
                return false
            }
            if empty { continuation.resume() }
        }
    }
}
