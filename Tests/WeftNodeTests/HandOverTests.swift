import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import Testing
import WeftCore
import WeftProxy

@testable import WeftNode

#if canImport(Glibc)
    import Glibc
#endif

/// The hand-over of a hitless restart, both halves in this process over a real unix socket: the predecessor's
/// service offers its listening sockets, the successor takes them (SCM_RIGHTS), the predecessor stops.
@Suite struct HandOverTests {
    /// Stands in for the node's lifecycle: prepares the stop the way the node does (seal the table), then ends.
    struct PreparingLifecycle: Service {
        let stop: NodeStop
        let sockets: ListenSocketTable

        func run() async throws {
            guard let reason = await cancelWhenGracefulShutdown({ await stop.firstRequest() }) ?? nil else { return }
            _ = reason
            sockets.seal()
            stop.markPrepared()
        }
    }

    /// Runs a predecessor's hand-over service over `sockets` at a fresh path while `body` runs.
    func withPredecessor<T: Sendable>(
        _ sockets: ListenSocketTable, _ body: @Sendable (String, NodeStop) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("weft-handover-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/handover.sock"
        let stop = NodeStop()
        let logger = Logger(label: "test")
        let service = HandOverService(
            path: path, sockets: sockets, readiness: NodeReadiness(), stop: stop, live: LiveConnections(),
            logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: service),
                    .init(
                        service: PreparingLifecycle(stop: stop, sockets: sockets),
                        successTerminationBehavior: .gracefullyShutdownGroup),
                ], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while !FileManager.default.fileExists(atPath: path) { try await Task.sleep(for: .milliseconds(10)) }
            let result = try await body(path, stop)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        }
    }

    /// Blocking calls of the successor's side, on a thread of their own (the predecessor's service has its own).
    func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(work)
    }

    @Test func aSuccessorTakesTheListeningSocketsAndThePredecessorStopsAccepting() async throws {
        let sockets = ListenSocketTable()
        let key = ListenSocketKey(.tcp, IPSocketAddress(address: .v4(0x7F00_0001), port: 0))
        let listener = try sockets.socket(for: key)
        let port = ListenSocket.localPort(listener)
        try await withPredecessor(sockets) { path, stop in
            let predecessor = try #require(try await onThread { try Predecessor.takeOver(path: path) })
            #expect(predecessor.pid == getpid())
            let received = try #require(predecessor.sockets[key])
            #expect(
                received != listener && ListenSocket.localPort(received) == port, "a copy of the same listening socket")
            #expect(stop.reason == nil, "the predecessor serves until the successor takes over")
            #expect(try await onThread { try predecessor.takeOverNow() } == 0)
            #expect(stop.reason == .handedOver(successor: getpid()))
            #expect(sockets.offer() == nil, "the predecessor offers nothing more")

            // A connection to the port waits in the backlog of the socket the successor now holds.
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(client) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            #expect(connected == 0)
            let accepted = accept(received, nil, nil)
            #expect(accepted >= 0)
            close(accepted)
            close(received)
        }
        close(listener)
    }

    @Test func noProcessAtThePathIsAFirstStartEvenWithAStaleSocketFileLeft() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("weft-handover-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/handover.sock"
        #expect(try Predecessor.takeOver(path: path) == nil)
        let stale = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        close(stale)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(try Predecessor.takeOver(path: path) == nil, "a socket file nobody listens on is a previous run's")
    }

    @Test func aStoppingPredecessorRefusesAndTheSuccessorBindsAfresh() async throws {
        let sockets = ListenSocketTable()
        let listener = try sockets.socket(
            for: ListenSocketKey(.tcp, IPSocketAddress(address: .v4(0x7F00_0001), port: 0)))
        sockets.seal()
        _ = try await withPredecessor(sockets) { path, _ in
            await #expect {
                _ = try await onThread { try Predecessor.takeOver(path: path) }
            } throws: { error in
                "\(error)".contains("refused: this node is stopping")
            }
        }
        close(listener)
    }

    @Test func aSuccessorInAnotherNetworkNamespaceGetsNoSocket() async throws {
        let sockets = ListenSocketTable()
        let listener = try sockets.socket(
            for: ListenSocketKey(.tcp, IPSocketAddress(address: .v4(0x7F00_0001), port: 0)))
        try await withPredecessor(sockets) { path, stop in
            let (answer, descriptors) = try await onThread { () throws -> (HandOverMessage, [Int32]) in
                let connection = try #require(try HandOverConnection.connect(to: path))
                try connection.send(.hello(pid: getpid(), networkNamespace: NetworkNamespaceIdentity.current &+ 1))
                return try connection.receive(timeout: .seconds(5))
            }
            #expect(answer == .refused(reason: "this node runs in another network namespace"))
            #expect(descriptors.isEmpty)
            #expect(stop.reason == nil)
        }
        close(listener)
    }
}

@Suite struct NodeSupervisorTests {
    @Test(arguments: [
        (Int32(0), Int32(0), "exit 0"), (Int32(3 << 8), Int32(3), "exit 3"),
        (SIGKILL, 128 + SIGKILL, "killed by signal 9"),
    ])
    func theWorkersEndIsTheSupervisorsExitStatus(status: Int32, code: Int32, text: String) {
        #expect(NodeSupervisor.exitCode(status) == code)
        #expect(NodeSupervisor.describe(status) == text)
    }
}
