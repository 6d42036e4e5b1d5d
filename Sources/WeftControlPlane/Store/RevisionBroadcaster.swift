import Synchronization

/// Hands committed revisions to every `Store.notifications()` stream of one store instance.
///
/// Each subscriber buffers only the newest revision (a slow consumer re-reads `changes(since:)` anyway). Revisions are
/// yielded in increasing order: one that is not newer than the last one yielded is dropped (e.g. the PostgreSQL
/// store hears its own commits a second time through LISTEN), unless `force` is set (after a reconnect, so consumers
/// re-read even though the revision may be the same).
final class RevisionBroadcaster: Sendable {
    private struct State {
        var nextID = 0
        var subscribers: [Int: AsyncStream<Int64>.Continuation] = [:]
        var latest: Int64 = -1
        var finished = false
    }

    private let state = Mutex(State())

    init() {}

    func subscribe() -> AsyncStream<Int64> {
        let (stream, continuation) = AsyncStream.makeStream(of: Int64.self, bufferingPolicy: .bufferingNewest(1))
        let id: Int? = state.withLock { state in
            guard !state.finished else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.subscribers[id] = continuation
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    func publish(_ revision: Int64, force: Bool = false) {
        // Yielding under the lock keeps the order of revisions the same for every subscriber; `yield` only buffers
        // or resumes a waiting consumer, it never runs consumer code here.
        state.withLock { state in
            guard !state.finished, force || revision > state.latest else { return }
            state.latest = max(state.latest, revision)
            for continuation in state.subscribers.values {
                continuation.yield(revision)
            }
        }
    }

    /// Ends every stream, present and future.
    func finish() {
        let subscribers = state.withLock { state in
            state.finished = true
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        // Outside the lock: finishing runs `onTermination`, which takes the lock.
        for continuation in subscribers {
            continuation.finish()
        }
    }
}
