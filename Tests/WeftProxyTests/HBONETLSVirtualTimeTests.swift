import NIOCore
import NIOEmbedded
import NIOHTTP2
import NIOSSL
import Testing
import WeftCore
import WeftIdentity

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
        let serverTLS: MeshTLSStore
        let hbone: HBONEServer
        let accessLines: @Sendable () -> [String]

        /// Node "a" calling as "frontend" to node "b"; `serverNode` is the name node "b"'s certificate carries.
        init(serverNode: String = "b", server configure: (inout HBONEServer.Configuration) -> Void = { _ in })
            async throws
        {
            let ca = try TestCA()
            clientTLS = try MeshTLS(credentials: ca.credentials(node: "a", workloads: [Mesh.frontend]), generation: 1)
            serverTLS = MeshTLSStore()
            try serverTLS.update(try ca.credentials(node: serverNode, workloads: [Mesh.backend]))
            let runtime = Mesh.runtime(
                LoopbackMesh.config(endpoint: IPSocketAddress("127.0.0.1:1")!, hbonePort: 15008))
            var configuration = HBONEServer.Configuration(bindAddresses: [])
            configure(&configuration)
            hbone = HBONEServer(
                configuration: configuration, group: loop, tls: serverTLS, runtime: runtime.runtime,
                logger: Mesh.quietLogger)
            accessLines = runtime.accessLines
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
            // The server's channel is connected first: the listener reads the client's address when it accepts.
            try await server.connect(to: try SocketAddress(ipAddress: "198.18.0.11", port: 40_000))
            try await loop.submit {
                try HBONEConnectionPool.configureClient(
                    client, connection: connection, tls: clientTLS, context: context, expecting: expected,
                    maxStreams: 100, windows: (stream: 1 << 20, connection: 1 << 20))
                try hbone.initialize(server)
            }.get()
            try await client.connect(to: try SocketAddress(ipAddress: "198.18.0.12", port: 15008))
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

    /// The serial of the certificate node "a" presents as frontend.
    static func frontendSerial(_ f: Fixture) throws -> String {
        let pem = try #require(f.clientTLS.credentials.workloads[Mesh.frontend]).certificateChainPEM
        return try #require(try PEM.certificates(fromPEM: pem, source: "test").first).serialHex
    }

    @Test func revokingAPeersCertificateClosesItsOpenConnection() async throws {
        let f = try await Fixture()
        try await f.connect()
        let stream = try await f.openStream()
        try await f.interact { await f.outcome(of: stream) != nil }
        #expect(f.serverTLS.revocations.trackedCount == 1)
        #expect(f.serverTLS.revocations.update(["0badc0de"]) == 0, "another serial leaves it open")
        #expect(f.serverTLS.revocations.update(["0badc0de", try Self.frontendSerial(f)]) == 1)
        try await f.interact { await f.closed && f.serverTLS.revocations.trackedCount == 0 }
        #expect(await f.closed)
        #expect(f.serverTLS.revocations.trackedCount == 0)
    }

    @Test func aRevokedCertificateFailsTheHandshake() async throws {
        let f = try await Fixture()
        f.serverTLS.revocations.update([try Self.frontendSerial(f)])
        // The client sees the server's alert (certificate unknown) as the handshake fails: as NIOSSLError or as
        // BoringSSLError, depending on where in the handshake the alert arrives.
        let failure = await #expect(throws: (any Error).self) {
            try await f.connect()
            try await f.interact { await f.closed }
        }
        #expect(failure is NIOSSLError || failure is BoringSSLError, "\(String(describing: failure))")
        #expect(f.serverTLS.revocations.trackedCount == 0)
        #expect(
            f.accessLines().contains { $0.contains("is revoked") && $0.contains("\"result\":\"refused\"") },
            "\(f.accessLines())")
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

    @Test func aClientThatNeverCompletesTheHandshakeIsClosedByTheServerAtItsDeadline() async throws {
        let f = try await Fixture()
        try await f.connect()
        // The client's ClientHello never reaches the server.
        await f.loop.advanceTime(by: .seconds(10) - .milliseconds(1))
        #expect(f.server.isActive)
        await f.loop.advanceTime(by: .milliseconds(1))
        #expect(!f.server.isActive, "closed at the handshake deadline")
        let entries = Mesh.entries(f.accessLines())
        #expect(entries.contains { $0.result == .refused && $0.reason == "mTLS: no handshake within 10000 ms" })
    }

    @Test func aServerConnectionWithoutStreamsClosesAfterItsIdleTimeout() async throws {
        let f = try await Fixture { $0.idleTimeout = .seconds(30) }
        try await f.connect()
        let stream = try await f.openStream()
        try await f.interact { await f.outcome(of: stream) != nil }
        // Shorter than the client's pool idle timeout (60 s) here, so the server is the one that closes.
        await f.loop.advanceTime(by: .seconds(30) - .milliseconds(1))
        try await f.interact(rounds: 20)
        #expect(f.server.isActive)
        await f.loop.advanceTime(by: .milliseconds(1))
        try await f.interact(rounds: 50) { !f.server.isActive }
        #expect(!f.server.isActive, "an HBONE connection without streams is closed after the idle timeout")
    }

    @Test func connectionsPastTheLimitPerSourceAreRefusedAtAccept() async throws {
        let f = try await Fixture { $0.maxConnectionsPerSource = 1 }
        try await f.connect()
        let second = NIOAsyncTestingChannel(loop: f.loop)
        try await second.connect(to: try SocketAddress(ipAddress: "198.18.0.11", port: 40_001))
        let refused = try await f.loop.submit { [hbone = f.hbone] () -> String? in
            do {
                try hbone.initialize(second)
                return nil
            } catch {
                return "\(error)"
            }
        }.get()
        #expect(refused == "198.18.0.11 holds its limit of 1 HBONE connections")
        let entries = Mesh.entries(f.accessLines())
        #expect(entries.contains { $0.result == .refused && $0.reason == refused })
        try await f.server.close()
        let third = NIOAsyncTestingChannel(loop: f.loop)
        try await third.connect(to: try SocketAddress(ipAddress: "198.18.0.11", port: 40_002))
        try await f.loop.submit { [hbone = f.hbone] in try hbone.initialize(third) }.get()
        #expect(third.isActive, "a slot freed by a close is taken again")
    }
}
