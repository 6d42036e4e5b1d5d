import Dispatch
import NIOConcurrencyHelpers

/// Hands lines to a writer that may block (stdout into a pipe or journald) on one background queue, with at most
/// `capacity` lines waiting: past that a line is dropped and `onDrop` is called, so a stuck reader costs lines,
/// never memory without bound or an event loop.
final class BoundedLineWriter: Sendable {
    private struct State {
        var waiting: [String] = []
        var draining = false
    }

    let capacity: Int
    private let write: @Sendable (String) -> Void
    private let onDrop: @Sendable () -> Void
    private let queue: DispatchQueue
    private let state = NIOLockedValueBox(State())

    init(
        capacity: Int, label: String, onDrop: @escaping @Sendable () -> Void,
        write: @escaping @Sendable (String) -> Void
    ) {
        self.capacity = capacity
        self.write = write
        self.onDrop = onDrop
        self.queue = DispatchQueue(label: label)
    }

    /// Queues `line`; false when it was dropped.
    @discardableResult
    func enqueue(_ line: String) -> Bool {
        let (accepted, startDraining) = state.withLockedValue { state -> (Bool, Bool) in
            guard state.waiting.count < capacity else { return (false, false) }
            state.waiting.append(line)
            if state.draining { return (true, false) }
            state.draining = true
            return (true, true)
        }
        if !accepted { onDrop() }
        if startDraining { queue.async { self.drain() } }
        return accepted
    }

    /// Lines queued and not yet handed to the writer.
    var waiting: Int { state.withLockedValue { $0.waiting.count } }

    private func drain() {
        while true {
            let batch = state.withLockedValue { state -> [String] in
                let batch = state.waiting
                state.waiting.removeAll(keepingCapacity: true)
                if batch.isEmpty { state.draining = false }
                return batch
            }
            if batch.isEmpty { return }
            for line in batch { write(line) }
        }
    }
}
