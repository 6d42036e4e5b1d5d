import Synchronization

/// A process's readiness as a set of named tokens (as ztunnel registers its tasks): each part registers a token
/// under a name and marks it ready or pending; a name is pending while any of its tokens is.
public final class Readiness<Name: Hashable & Comparable & Sendable>: Sendable {
    private struct State {
        var tokens: [Int: (name: Name, ready: Bool)] = [:]
        var nextID = 0
        var waiters: [Int: (name: Name, continuation: CheckedContinuation<Void, Never>)] = [:]

        func isReady(_ name: Name) -> Bool {
            tokens.values.allSatisfy { $0.name != name || $0.ready }
        }
    }

    private let state = Mutex(State())

    public init() {}

    /// Registers a pending token under `name`.
    public func register(_ name: Name) -> ReadinessToken<Name> {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            state.tokens[state.nextID] = (name, false)
            return state.nextID
        }
        return ReadinessToken(id: id, name: name, readiness: self)
    }

    /// The names with a pending token, in order.
    public var pending: [Name] {
        state.withLock { state in
            Set(state.tokens.values.filter { !$0.ready }.map(\.name)).sorted()
        }
    }

    /// Returns once every token registered under `name` is ready (at once when none is pending), or when the task
    /// is cancelled.
    public func waitUntilReady(_ name: Name) async {
        let waiter = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    if state.isReady(name) || Task.isCancelled { return true }
                    state.waiters[waiter] = (name, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: waiter) }?.continuation.resume()
        }
    }

    fileprivate func set(_ id: Int, ready: Bool) {
        let resumed = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard let token = state.tokens[id] else { return [] }
            state.tokens[id] = (token.name, ready)
            let due = state.waiters.filter { state.isReady($0.value.name) }
            for id in due.keys { state.waiters[id] = nil }
            return due.values.map(\.continuation)
        }
        for continuation in resumed { continuation.resume() }
    }
}

/// One part's say in a process's readiness.
public struct ReadinessToken<Name: Hashable & Comparable & Sendable>: Sendable {
    fileprivate let id: Int
    public let name: Name
    fileprivate let readiness: Readiness<Name>

    public func ready() { readiness.set(id, ready: true) }

    public func set(ready: Bool) { readiness.set(id, ready: ready) }
}
