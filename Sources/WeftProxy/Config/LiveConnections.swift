import NIOConcurrencyHelpers
import NIOCore
import WeftCore

/// The connections the proxy is relaying right now, with who talks to whom, so that a policy change reaches them:
/// one the new policy denies is closed at once ("stop all traffic" stops open connections too). Also what a
/// draining node waits for: these, and the connections accepted but not yet relayed (`admit`).
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
        /// Accepted connections (and streams) still open, relayed or not yet.
        var admitted = 0
        var drained: [UInt64: CheckedContinuation<Void, Never>] = [:]
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
                return Self.takeWaitersIfIdle(&state)
            }
            waiters.forEach { $0.resume() }
        }
    }

    /// Counts an accepted connection or stream until `closed`, from the moment it is accepted: while it is still
    /// registered, inspected and routed it is not relayed yet, and a drain must not end under it.
    public func admit(until closed: EventLoopFuture<Void>) {
        state.withLockedValue { $0.admitted += 1 }
        closed.whenComplete { [self] _ in
            let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
                state.admitted -= 1
                return Self.takeWaitersIfIdle(&state)
            }
            waiters.forEach { $0.resume() }
        }
    }

    private static func takeWaitersIfIdle(_ state: inout State) -> [CheckedContinuation<Void, Never>] {
        guard state.entries.isEmpty, state.admitted == 0 else { return [] }
        defer { state.drained = [:] }
        return Array(state.drained.values)
    }

    public var count: Int { state.withLockedValue { $0.entries.count } }

    /// No connection is relayed or being set up.
    public var isIdle: Bool { state.withLockedValue { $0.entries.isEmpty && $0.admitted == 0 } }

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

    /// Returns once no connection is open or being set up, or when the calling task is cancelled.
    public func waitUntilEmpty() async {
        let id = state.withLockedValue { state in
            state.next += 1
            return state.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLockedValue { state in
                    if (state.entries.isEmpty && state.admitted == 0) || Task.isCancelled { return true }
                    state.drained[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLockedValue { $0.drained.removeValue(forKey: id) }?.resume()
        }
    }

    /// Waits up to `timeout` for every connection to end, then closes those left with `reason`. Runs to the end even
    /// when the calling task is cancelled (a stopping node drains after its run was cancelled). Returns whether all
    /// ended on their own.
    public func drain(timeout: Duration, reason: String) async -> Bool {
        let drained = await Task.detached { [self] in
            await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await self.waitUntilEmpty()
                    return !Task.isCancelled
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
        }.value
        if !drained { closeAll(reason: reason) }
        return drained
    }
}
