import CLinuxNet
import Logging
import NIOPosix
import ServiceLifecycle
import WeftCore
import WeftProxy

#if canImport(Glibc)
    import Glibc
#endif

/// The predecessor's half of a hitless restart. Once this process's listeners are bound it listens at `path` for a
/// successor: a process of the same user in the same network namespace gets the listening sockets, and once it
/// takes them over this process stops accepting (reason `handedOver`: drain, keep the capture) before the
/// successor starts accepting, so the two never accept on one socket at once (connections wait in its backlog).
struct HandOverService: Service {
    let path: String
    let sockets: ListenSocketTable
    let readiness: NodeReadiness
    let stop: NodeStop
    let live: LiveConnections
    let logger: Logger
    /// The blocking calls (accept, send, receive: each bounded by a timeout) run here, never on a thread the
    /// netlink calls need.
    let thread = NIOThreadPool(numberOfThreads: 1)

    func run() async throws {
        thread.start()
        defer { thread.shutdownGracefully { _ in } }
        await cancelWhenGracefulShutdown { await readiness.waitUntilReady(.listeners) }
        guard !Task.isCancelled, !Task.isShuttingDownGracefully else { return }
        let unclaimed = sockets.closeUnclaimed()
        if !unclaimed.isEmpty {
            logger.info("closed sockets the settings no longer use", metadata: ["sockets": "\(unclaimed)"])
        }

        let listener = weft_handover_listen(path)
        if listener >= 0 {
            await serveSuccessors(on: listener)
            close(listener)
        } else {
            logger.error(
                "no hitless restart: cannot listen for a successor",
                metadata: ["path": "\(path)", "error": "\(HandOverConnection.text(listener))"])
        }
        // A service that ends before the group stops would fail the group.
        try? await gracefulShutdown()
    }

    /// Until the node stops or a successor took over. Not cancelled by the graceful shutdown, so that a hand-over
    /// under way finishes (its own stop starts that shutdown).
    private func serveSuccessors(on listener: Int32) async {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            let accepted = try? await thread.runIfActive { weft_handover_accept(listener, 500) }
            guard let fd = accepted, fd >= 0 else { continue }
            if await serve(HandOverConnection(fd: fd)) { return }
        }
    }

    /// One successor's request; true once it took over.
    private func serve(_ connection: HandOverConnection) async -> Bool {
        do {
            let successor = try await thread.runIfActive { () throws -> Int32? in
                try offer(on: connection)
            }
            guard let successor else { return false }
            stop.request(.handedOver(successor: successor))
            await stop.waitUntilPrepared()
            guard stop.reason == .handedOver(successor: successor) else { return true }
            try await thread.runIfActive { try connection.send(.draining(connections: live.count)) }
            logger.info(
                "handed over to a successor: draining",
                metadata: ["successor": "\(successor)", "connections": "\(live.count)"])
            return true
        } catch {
            logger.warning("a hand-over failed; still serving", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Offers the sockets; the successor's pid once it takes them over, nil when it was refused or went away.
    private func offer(on connection: HandOverConnection) throws(HandOverError) -> Int32? {
        let pid = try connection.requireSameUser()
        let (hello, stray) = try connection.receive(timeout: .seconds(5))
        for fd in stray { close(fd) }
        guard case .hello(_, let namespace) = hello else {
            throw HandOverError(description: "pid \(pid) sent \(hello), not hello")
        }
        guard namespace == NetworkNamespaceIdentity.current else {
            try connection.send(.refused(reason: "this node runs in another network namespace"))
            return nil
        }
        guard let open = sockets.offer() else {
            try connection.send(.refused(reason: "this node is stopping: bind the ports afresh once it has"))
            return nil
        }
        let keys = Array(open.keys)
        try connection.send(.offer(sockets: keys, pid: getpid()), descriptors: keys.map { open[$0]! })
        logger.info(
            "offered the listening sockets to a successor", metadata: ["pid": "\(pid)", "sockets": "\(keys.count)"])
        let (answer, more) = try connection.receive(timeout: .seconds(30))
        for fd in more { close(fd) }
        guard answer == .accepting else {
            throw HandOverError(description: "pid \(pid) answered \(answer), not accepting")
        }
        return pid
    }
}
