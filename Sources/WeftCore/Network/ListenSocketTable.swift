import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Every listening socket of one process, by what it was asked to bind: taken from a predecessor when it handed
/// one over (a hitless restart), opened afresh otherwise, and offered in turn to a successor while the process
/// still serves. Once `seal()` is called (the process stops accepting) nothing is offered any more, so a descriptor
/// closed by its listener is never passed on.
public final class ListenSocketTable: Sendable {
    private struct State {
        var inherited: [ListenSocketKey: Int32]
        var inheritedKeys: Set<ListenSocketKey>
        var open: [ListenSocketKey: Int32] = [:]
        var sealed = false
    }

    private let state: Mutex<State>

    /// `inherited`: the descriptors a predecessor handed over; the table owns them until a listener takes one.
    public init(inherited: [ListenSocketKey: Int32] = [:]) {
        state = Mutex(State(inherited: inherited, inheritedKeys: Set(inherited.keys)))
    }

    /// Adds the descriptors a predecessor handed over (before the listeners start); the table owns them.
    public func inherit(_ descriptors: [ListenSocketKey: Int32]) {
        state.withLock { state in
            state.inherited.merge(descriptors) { _, new in new }
            state.inheritedKeys.formUnion(descriptors.keys)
        }
    }

    /// The descriptor for `key`: the inherited one when there is one, else a new socket. The listener that takes
    /// it owns it (closes it when it closes).
    public func socket(for key: ListenSocketKey, backlog: Int32 = 1024) throws(ListenSocketError) -> Int32 {
        let fd: Int32
        if let inherited = state.withLock({ $0.inherited.removeValue(forKey: key) }) {
            fd = inherited
        } else {
            fd = try ListenSocket.open(key, backlog: backlog)
        }
        state.withLock { $0.open[key] = fd }
        return fd
    }

    /// Whether `key`'s socket came from a predecessor (for the log).
    public func wasInherited(_ key: ListenSocketKey) -> Bool {
        state.withLock { $0.inheritedKeys.contains(key) && $0.open[key] != nil }
    }

    /// The sockets to hand to a successor, or nil once sealed. The descriptors stay this process's until it closes
    /// its listeners; the successor gets its own copies.
    public func offer() -> [ListenSocketKey: Int32]? {
        state.withLock { $0.sealed ? nil : $0.open }
    }

    /// Forgets `key`'s socket, which its listener closed (a retry with another port); it is never offered.
    public func release(_ key: ListenSocketKey) {
        _ = state.withLock { $0.open.removeValue(forKey: key) }
    }

    /// No more offers: called before any listener closes.
    public func seal() {
        state.withLock { $0.sealed = true }
    }

    /// Closes the inherited sockets no listener asked for (a port the new settings no longer use); returns them.
    @discardableResult
    public func closeUnclaimed() -> [ListenSocketKey] {
        let unclaimed = state.withLock { state in
            defer { state.inherited.removeAll() }
            return state.inherited
        }
        for fd in unclaimed.values { close(fd) }
        return Array(unclaimed.keys)
    }
}
