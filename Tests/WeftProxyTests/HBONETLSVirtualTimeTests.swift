import NIOCore
import NIOEmbedded
import NIOHTTP2
import NIOSSL
import Testing
import WeftCore

@testable import WeftProxy

/// The tunnel connection as it runs — the pool's client pipeline (mTLS, HTTP/2) against `HBONEServer`'s — between two
/// `NIOAsyncTestingChannel`s on one `NIOAsyncTestingEventLoop`, bytes carried in memory (nio-ssl's back-to-back
/// pattern), timeouts in virtual time. The async loop because the certificate check completes off the loop.
@Suite(.timeLimit(.minutes(1)))
struct HBONETLSVirtualTimeTests {
    static let idleTimeout = TimeAmount.seconds(60)
    static let answerTimeout = TimeAmount.seconds(10)
    /// An endpoint of "backend" on node "c": node "b" answers 404 without dialing anything.
    static let elsewhere = HBONERequest(authority: LoopbackMesh.nodeCEndpoint, requestID: "req-tls-virtual")

    final class Fixture: Sendable {
        let loop = NIOAsyncTestingEventLoop()
        let client: NIOAsyncTestingChannel
        let server: NIOAsyncTestingChannel
        let connection: PooledConnection
        let clientTLS: MeshTLS
        let hbone: HBONEServer

        /// Node "a" calling as "frontend" to node "b"; `serverNode` is the name node "b"'s certificate carries.
        init(serverNode: String = "b") async throws {
            let ca = try TestCA()
            clientTLS = try MeshTLS(credentials: ca.credentials(node: "a", workloads: [Mesh.frontend]), generation: 1)
            let serverTLS = MeshTLSStore()
            try serverTLS.update(try ca.credentials(node: serverNode, workloads: [Mesh.backend]))
            let runtime = Mesh.runtime(
                LoopbackMesh.config(endpoint: IPSocketAddress("127.0.0.1:1")!, hbonePort: 15008))
            hbone = HBONEServer(
                configuration: .init(bindAddresses: []), group: loop, tls: serverTLS, runtime: runtime.runtime,
                logger: Mesh.quietLogger)
            client = NIOAsyncTestingChannel(loop: loop)
            server = NIOAsyncTestingChannel(loop: loop)
            connection = PooledConnection(
                generation: 1, idleTimeout: HBONETLSVirtualTimeTests.idleTimeout, eventLoop: loop)
        }

        /// Builds both pipelines as production does and connects them.
        func connect() async throws {
            let expected = SPIFFEID.node(trustDomain: Mesh.trustDomain, name: "b")
            let context = try clientTLS.clientContext(for: Mesh.frontend)
            let (client, server, connection, clientTLS, hbone) = (client, server, connection, clientTLS, hbone)
            try await loop.submit {
                try HBONEConnectionPool.configureClient(
                    client, connection: connection, tls: clientTLS, context: context, expecting: expected,
                    maxStreams: 100, windows: (stream: 1 << 20, connection: 1 << 20))
                try hbone.initialize(server)
            }.get()
            let address = try SocketAddress(ipAddress: "198.18.0.12", port: 15008)
            try await server.connect(to: try SocketAddress(ipAddress: "198.18.0.11", port: 40_000))
            try await client.connect(to: address)
            try await loop.submit {
                let multiplexer = try client.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self)
                    .syncMultiplexer()
                connection.connected(channel: client, multiplexer: multiplexer)
            }.get()
        }

        /// Carries bytes both ways until `done` holds (the certificate check runs on another thread, so a quiet
        /// moment is not the end); gives up after `rounds`.
        func interact(
            serverAnswers: Bool = true, rounds: Int = 2_000, until done: @Sendable () async -> Bool = { false }
        ) async throws {
            for _ in 0..<rounds {
                await loop.run()
                var moved = try await Self.carry(from: client, to: server)
                if serverAnswers { moved = try await Self.carry(from: server, to: client) || moved }
                if await done() { return }
                if !moved { await Task.yield() }
            }
        }

        private static func carry(from source: NIOAsyncTestingChannel, to target: NIOAsyncTestingChannel)
            async throws -> Bool
        {
            var moved = false
            while target.isActive,
                let bytes = try await source.readOutbound(as: ByteBuffer.self)
            {
                try await target.writeInbound(bytes)
                moved = true
            }
            return moved
        }

        func openStream() async throws -> EventLoopFuture<any Channel> {
            try await loop.submit { [connection] in
                HBONEConnectionPool.openStream(
                    on: connection, request: HBONETLSVirtualTimeTests.elsewhere,
                    answerTimeout: HBONETLSVirtualTimeTests.answerTimeout
                ) { _ in }
            }.get()
        }

        /// `future`'s outcome, looked at on the loop (where a completed future answers at once); nil while pending.
        func outcome<T: Sendable>(of future: EventLoopFuture<T>) async -> Result<T, any Error>? {
            try? await loop.submit { WeftProxyTests.outcome(of: future) }.get()
        }

        func failure<T: Sendable>(of future: EventLoopFuture<T>) async -> (any Error)? {
            guard case .failure(let error) = await outcome(of: future) else { return nil }
            return error
        }

        var closed: Bool { get async { await outcome(of: connection.channelClosed) != nil } }

        var streams: Int { get async { (try? await loop.submit { [connection] in connection.streams }.get()) ?? -1 } }
    }

    @Test func aCONNECTCrossesMutualTLSAndNodeBsAnswerComesBack() async throws {
        let f = try await Fixture()
        try await f.connect()
        let stream = try await f.openStream()
        try await f.interact { await f.outcome(of: stream) != nil }
        let error = await f.failure(of: stream) as? HBONEError
        guard case .refused(let status, let reason) = error else {
            Issue.record("expected node b's refusal, got \(String(describing: await f.outcome(of: stream)))")
            return
        }
        #expect(status == .notFound, "an endpoint of node c is not node b's to serve")
        #expect(reason?.isEmpty == false)
        #expect(!(await f.closed), "a refused stream leaves the connection usable")
    }

    @Test func theTLSConnectionClosesAfterTheIdleTimeoutInVirtualTime() async throws {
        let f = try await Fixture()
        try await f.connect()
        let stream = try await f.openStream()
        try await f.interact { await f.outcome(of: stream) != nil }
        try await f.interact(rounds: 50) { await f.streams == 0 }
        #expect(await f.streams == 0)
        await f.loop.advanceTime(by: Self.idleTimeout - .milliseconds(1))
        #expect(!(await f.closed))
        await f.loop.advanceTime(by: .milliseconds(1))
        try await f.interact(rounds: 50) { await f.closed }
        #expect(await f.closed, "an idle connection leaves the pool")
    }

    @Test func aPeerThatNeverCompletesTheHandshakeFailsTheStreamAtTheAnswerTimeout() async throws {
        let f = try await Fixture()
        try await f.connect()
        let stream = try await f.openStream()
        // The server reads the ClientHello and never says a word.
        try await f.interact(serverAnswers: false, rounds: 20)
        await f.loop.advanceTime(by: Self.answerTimeout - .milliseconds(1))
        #expect(await f.outcome(of: stream) == nil, "still waiting")
        await f.loop.advanceTime(by: .milliseconds(1))
        #expect(await f.failure(of: stream) as? HBONEError == .noAnswer(within: Self.answerTimeout))
        #expect(await f.closed, "a connection that never answered is given up")
    }

    @Test func aServerThatIsNotTheExpectedNodeIsRefusedAtTheHandshake() async throws {
        let f = try await Fixture(serverNode: "mallory")
        try await f.connect()
        let stream = try await f.openStream()
        try await f.interact { await f.outcome(of: stream) != nil }
        let error = await f.failure(of: stream) as? HBONEError
        guard case .handshake(let reason) = error else {
            Issue.record("expected a handshake refusal, got \(String(describing: await f.outcome(of: stream)))")
            return
        }
        #expect(reason.contains("node/mallory") && reason.contains("node/b"), "\(reason)")
    }
}
