import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
import WeftCore

@testable import WeftProxy

/// The caps and the handshake deadline of the HBONE listener, with real sockets on loopback: idle TCP connections
/// that never start TLS, and real mTLS callers.
@Suite(.timeLimit(.minutes(1)))
struct HBONEConnectionCapsTests {
    /// A raw TCP connection to the listener from `source`, doing nothing.
    private static func idle(to server: IPSocketAddress, from source: String, on group: any EventLoopGroup)
        async throws -> any Channel
    {
        try await ClientBootstrap(group: group)
            .bind(to: try SocketAddress(ipAddress: source, port: 0))
            .connect(to: try SocketAddress(ipAddress: server.address.description, port: Int(server.port))).get()
    }

    private static func isClosed(_ channel: any Channel) async -> Bool {
        await eventually(within: .seconds(3)) { !channel.isActive }
    }

    @Test func idleConnectionsPastTheSourceCapAreClosedAtOnceTheRestAtTheHandshakeDeadline() async throws {
        try await LoopbackMesh.run(server: {
            $0.maxConnectionsPerSource = 4
            $0.handshakeTimeout = .seconds(2)
        }) { mesh in
            var held: [any Channel] = []
            for _ in 0..<4 {
                held.append(try await Self.idle(to: mesh.serverAddress, from: "127.0.0.1", on: mesh.group))
            }
            let past = try await Self.idle(to: mesh.serverAddress, from: "127.0.0.1", on: mesh.group)
            #expect(await Self.isClosed(past), "a fifth idle connection from one host is closed at accept")
            let stillOpen = held.filter(\.isActive).count
            #expect(stillOpen == 4, "the first four wait for their handshake")
            let other = try await Self.idle(to: mesh.serverAddress, from: "127.0.0.5", on: mesh.group)
            #expect(other.isActive, "another host still gets a slot")
            #expect(
                mesh.serverEntries.contains {
                    $0.result == .refused && $0.reason == "127.0.0.1 holds its limit of 4 HBONE connections"
                })

            // None of them starts TLS: the handshake deadline closes every one.
            for channel in held + [other] {
                #expect(await eventually(within: .seconds(5)) { !channel.isActive }, "closed at the handshake deadline")
            }
            #expect(mesh.serverEntries.contains { $0.reason == "mTLS: no handshake within 2000 ms" })

            // The slots are free again: a real caller from the same host is served.
            let stream = try await mesh.open()
            try await stream.send("ping")
            #expect(await eventually { stream.collector.received == "ping" })
            await stream.close()
        }
    }

    @Test func onePeerIdentityPastItsCapIsClosedAfterTheHandshakeOthersStillServed() async throws {
        let reporter = ServiceName(name: "reporter")
        try await LoopbackMesh.run(
            clientCredentials: { try $0.credentials(node: "a", workloads: [Mesh.frontend, reporter]) },
            server: { $0.maxConnectionsPerIdentity = 2 }
        ) { mesh in
            // Each pool holds its own connection, so three pools calling as frontend hold three connections.
            let pools = (0..<3).map { _ in
                HBONEConnectionPool(configuration: .init(), tls: mesh.clientTLS, logger: Mesh.quietLogger)
            }
            var streams: [TunnelStream] = []
            for pool in pools.prefix(2) { streams.append(try await mesh.open(through: pool)) }
            for stream in streams {
                try await stream.send("x")
                #expect(await eventually { stream.collector.received == "x" })
            }
            await #expect(throws: (any Error).self, "a third connection as frontend is closed after its handshake") {
                let third = try await mesh.open(through: pools[2])
                try await third.send("x")
                _ = await eventually(within: .seconds(2)) { third.collector.inactive }
                if third.collector.inactive { throw ChannelError.ioOnClosedChannel }
            }
            #expect(
                mesh.serverEntries.contains {
                    $0.result == .refused
                        && $0.reason
                            == "spiffe://weft.local/ns/default/svc/frontend holds its limit of 2 HBONE connections"
                })

            // Another identity, from the same host, is served.
            let other = HBONEConnectionPool(configuration: .init(), tls: mesh.clientTLS, logger: Mesh.quietLogger)
            let stream = try await mesh.open(peer: mesh.peer(source: reporter), through: other)
            try await stream.send("y")
            #expect(await eventually { stream.collector.received == "y" })
            for stream in streams + [stream] { await stream.close() }
        }
    }
}
