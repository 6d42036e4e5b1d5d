import WeftCore

#if canImport(Glibc)
    import Glibc
#endif

/// The node process this one replaces in a hitless restart. It hands over its listening sockets and accepts on
/// them until told that this process takes over; then it stops accepting and drains its open connections.
final class Predecessor: Sendable {
    let pid: Int32
    /// Its listening sockets, owned by this process now (a listener takes each; `closeUnclaimed` the rest).
    let sockets: [ListenSocketKey: Int32]
    private let connection: HandOverConnection

    private init(pid: Int32, sockets: [ListenSocketKey: Int32], connection: HandOverConnection) {
        self.pid = pid
        self.sockets = sockets
        self.connection = connection
    }

    /// Asks the process listening at `path` for its sockets. Nil when none listens there (a first start, or the
    /// last process stopped); throws when one answers and the hand-over fails. Blocks up to a few seconds.
    static func takeOver(path: String) throws(HandOverError) -> Predecessor? {
        guard let connection = try HandOverConnection.connect(to: path) else { return nil }
        let pid = try connection.requireSameUser()
        try connection.send(.hello(pid: getpid(), networkNamespace: NetworkNamespaceIdentity.current))
        let (answer, descriptors) = try connection.receive(timeout: .seconds(5))
        switch answer {
        case .offer(let keys, let offeredBy) where keys.count == descriptors.count && offeredBy == pid:
            return Predecessor(
                pid: pid, sockets: Dictionary(zip(keys, descriptors), uniquingKeysWith: { first, _ in first }),
                connection: connection)
        case .refused(let reason):
            throw HandOverError(description: "the process at \(path) (pid \(pid)) refused: \(reason)")
        default:
            for fd in descriptors { close(fd) }
            throw HandOverError(description: "the process at \(path) (pid \(pid)) answered \(answer), not an offer")
        }
    }

    /// Tells the predecessor this process takes over; returns once it stopped accepting (so that this one can
    /// start: the two never accept on one socket at once), with the number of connections it still drains.
    func takeOverNow() throws(HandOverError) -> Int {
        try connection.send(.accepting)
        let (answer, descriptors) = try connection.receive(timeout: .seconds(10))
        for fd in descriptors { close(fd) }
        guard case .draining(let connections) = answer else {
            throw HandOverError(description: "the predecessor (pid \(pid)) answered \(answer), not draining")
        }
        return connections
    }
}
