import NIOCore
import NIOHTTP1
import NIOPosix
import Testing
import WeftCore

@testable import WeftProxy

/// HBONE over real TLS 1.3 on 127.0.0.1: an `HBONEServer` for node "b", an echo workload behind it, and an
/// `HBONEConnectionPool` calling as "frontend" (see `LoopbackMesh`).
@Suite(.timeLimit(.minutes(1)))
struct HBONELoopbackTests {
    private func refusal(of open: () async throws -> TunnelStream) async -> (any Error)? {
        do {
            let stream = try await open()
            await stream.close()
            return nil
        } catch {
            return error
        }
    }

    @Test func aStreamCarriesBytesBothWaysAndHalfCloses() async throws {
        try await LoopbackMesh.run { mesh in
            let stream = try await mesh.open(requestID: "req-loopback-1")
            try await stream.send("ping")
            #expect(await eventually { stream.collector.received == "ping" }, "echoed through the tunnel")
            let labels = #"{reporter="destination",source_service="frontend",destination_service="backend"}"#
            let whileOpen = mesh.serverRuntime.metrics.exposition()
            #expect(
                whileOpen.contains("weft_tcp_sent_bytes_total\(labels) 4")
                    && whileOpen.contains("weft_tcp_received_bytes_total\(labels) 4"),
                "bytes are counted while the connection lives, not only when it ends")
            #expect(!whileOpen.contains("weft_tcp_connections_closed_total\(labels)"))

            try await stream.closeOutput()
            // The workload sees its input end, answers "bye" and closes: the reply still arrives after our half-close.
            #expect(await eventually { stream.collector.received == "pingbye" })
            #expect(await eventually { stream.collector.inactive }, "both directions ended: the stream is closed")
            #expect(
                stream.collector.inputClosed == 1,
                "the tunnel ends with END_STREAM, as the workload's socket ended with FIN")
            #expect(mesh.workload.received == "ping")

            let entry = try #require(await mesh.serverEntry { $0.result == .forwarded })
            #expect(entry.direction == .inbound)
            #expect(entry.sourceIdentity == "spiffe://weft.local/ns/default/svc/frontend")
            #expect(entry.sourceService == "frontend" && entry.destinationService == "backend")
            #expect(entry.requestID == "req-loopback-1")
            #expect(entry.upstream == mesh.workload.address.description)
            #expect(entry.bytesSent == 4 && entry.bytesReceived == 7)
            #expect(mesh.serverEntries.count == 1)

            let metrics = mesh.serverRuntime.metrics.exposition()
            #expect(metrics.contains("weft_tcp_connections_opened_total\(labels) 1"))
            #expect(metrics.contains("weft_tcp_connections_closed_total\(labels) 1"))
            #expect(metrics.contains("weft_tcp_sent_bytes_total\(labels) 4"))
            #expect(metrics.contains("weft_tcp_received_bytes_total\(labels) 7"))
            #expect(mesh.serverRuntime.live.count == 0)
        }
    }

    @Test func anAuthorityThatIsNoLocalEndpointIsRefused404AndReachesNothing() async throws {
        try await LoopbackMesh.run { mesh in
            for authority in [LoopbackMesh.nodeCEndpoint, IPSocketAddress("127.0.0.1:9")!] {
                let error = await refusal { try await mesh.open(authority) }
                guard case .refused(.notFound, let reason)? = error as? HBONEError else {
                    Issue.record("expected a 404 for \(authority), got \(String(describing: error))")
                    continue
                }
                #expect(reason == "\(authority) is not an endpoint on this node")
            }
            #expect(mesh.workload.accepted == 0, "the workload got nothing")
            #expect(await eventually { mesh.serverEntries.count == 2 })
            #expect(
                mesh.serverEntries.allSatisfy {
                    $0.result == .refused && $0.sourceIdentity == Mesh.frontendID.description
                })
        }
    }

    @Test(arguments: [
        (Mesh.denyFrontendToBackend, "denied by intention frontend>backend"),
        (Mesh.stopAll, "all traffic is stopped"),
    ])
    func aDeniedCallIsRefused403WithTheReason(policy: AuthorizationPolicy, because: String) async throws {
        try await LoopbackMesh.run(policy: policy) { mesh in
            let error = await refusal { try await mesh.open() }
            #expect(
                error as? HBONEError
                    == .refused(status: .forbidden, reason: "denied for \(Mesh.frontendID): \(because)"))
            #expect(mesh.workload.accepted == 0)
            let entry = try #require(await mesh.serverEntry { $0.result == .refused })
            #expect(entry.reason?.hasSuffix(because) == true)
        }
    }

    @Test func aWorkloadThatIsDownIsAnswered503() async throws {
        try await LoopbackMesh.run { mesh in
            let dead = try await EchoWorkload.deadAddress(on: mesh.group)
            mesh.serverStore.update(LoopbackMesh.config(endpoint: dead, hbonePort: mesh.serverAddress.port))
            let error = await refusal { try await mesh.open(dead) }
            guard case .refused(.serviceUnavailable, let reason)? = error as? HBONEError else {
                Issue.record("expected a 503, got \(String(describing: error))")
                return
            }
            #expect(reason?.contains("workload backend at \(dead) is down") == true)
            let entry = try #require(await mesh.serverEntry { $0.result == .failed })
            #expect(entry.destinationService == "backend")
        }
    }

    @Test func aClientCertificateFromAnotherCAIsRefusedAtTheHandshake() async throws {
        let otherCA = try TestCA()
        try await LoopbackMesh.run(clientCredentials: { ca in
            // Trusts the mesh's CA (so it accepts node "b"), but presents a "frontend" certificate of another CA.
            var credentials = try ca.credentials(node: "a")
            credentials.workloads[Mesh.frontend] = try otherCA.identity(Mesh.frontendID)
            return credentials
        }) { mesh in
            let error = await refusal { try await mesh.open() }
            // TLS 1.3: the client's handshake is done before the server judged its certificate; it learns of the
            // refusal as the connection closing before the CONNECT's answer (or as the server's alert).
            switch error as? HBONEError {
            case .closedBeforeResponse?, .handshake?: break
            default: Issue.record("expected the tunnel to fail at the handshake, got \(String(describing: error))")
            }
            let entry = try #require(await mesh.serverEntry { $0.result == .refused })
            #expect(entry.reason?.hasPrefix("mTLS:") == true, "\(entry.reason ?? "no reason")")
            #expect(entry.direction == .inbound && entry.sourceIdentity == nil)
            #expect(mesh.workload.accepted == 0)
        }
    }

    @Test func aServerThatIsNotTheExpectedNodeIsRefusedByTheClient() async throws {
        try await LoopbackMesh.run { mesh in
            let error = await refusal { try await mesh.open(peer: mesh.peer(node: "c")) }
            guard case .handshake(let reason)? = error as? HBONEError else {
                Issue.record("expected a handshake failure, got \(String(describing: error))")
                return
            }
            #expect(
                reason.contains("spiffe://weft.local/node/b") && reason.contains("expected spiffe://weft.local/node/c"))
            #expect(mesh.workload.accepted == 0)
            #expect(await eventually { mesh.pool.connectionCount == 0 }, "the failed connection leaves the pool")
        }
    }

    @Test func streamsShareAPooledConnectionUntilCredentialsAreRenewed() async throws {
        var configuration = HBONEConnectionPool.Configuration()
        configuration.idleTimeout = .milliseconds(200)
        try await LoopbackMesh.run(pool: configuration) { mesh in
            let first = try await mesh.open()
            let second = try await mesh.open()
            #expect(mesh.pool.connectionCount == 1, "two streams to one peer on one loop share a connection")
            try await first.send("one")
            try await second.send("two")
            #expect(await eventually { first.collector.received == "one" && second.collector.received == "two" })

            try mesh.clientTLS.update(mesh.ca.credentials(node: "a", workloads: [Mesh.frontend]))
            let third = try await mesh.open()
            #expect(
                mesh.pool.connectionCount == 2, "a stream after renewal opens a connection with the new certificate")
            try await first.send("-still-open")
            try await third.send("three")
            #expect(
                await eventually {
                    first.collector.received == "one-still-open" && third.collector.received == "three"
                },
                "an open stream keeps working on the old connection")

            await first.close()
            await second.close()
            #expect(await eventually { mesh.pool.connectionCount == 1 }, "the old connection closes once idle")
            try await third.send("!")
            #expect(await eventually { third.collector.received == "three!" })
            await third.close()
            #expect(await eventually { mesh.pool.connectionCount == 0 })
        }
    }

    @Test func aConnectionTakesAtMostItsStreamLimitAndTheNextStreamOpensAnother() async throws {
        var configuration = HBONEConnectionPool.Configuration()
        configuration.maxStreamsPerConnection = 2
        configuration.idleTimeout = .milliseconds(200)
        try await LoopbackMesh.run(pool: configuration) { mesh in
            let streams = [try await mesh.open(), try await mesh.open()]
            #expect(mesh.pool.connectionCount == 1)
            let third = try await mesh.open()
            #expect(mesh.pool.connectionCount == 2, "a third stream over the limit of 2 opens a second connection")
            for (index, stream) in (streams + [third]).enumerated() { try await stream.send("s\(index)") }
            #expect(
                await eventually {
                    streams[0].collector.received == "s0" && streams[1].collector.received == "s1"
                        && third.collector.received == "s2"
                })
            await streams[0].close()
            let fourth = try await mesh.open()
            #expect(mesh.pool.connectionCount == 2, "a freed slot is reused: \(mesh.pool.connectionCount) connections")
            try await fourth.send("s3")
            #expect(await eventually { fourth.collector.received == "s3" })
            for stream in [streams[1], third, fourth] { await stream.close() }
            #expect(await eventually { mesh.pool.connectionCount == 0 }, "both connections close once idle")
        }
    }

    @Test func aLiveConnectionIsClosedWithinASecondOfAPolicyThatDeniesIt() async throws {
        try await LoopbackMesh.run { mesh in
            let stream = try await mesh.open(requestID: "req-live")
            try await stream.send("ping")
            #expect(await eventually { stream.collector.received == "ping" })
            #expect(mesh.serverRuntime.live.count == 1)

            let closed = mesh.serverStore.update(mesh.config(policy: Mesh.denyFrontendToBackend))
            #expect(closed == 1)
            #expect(
                await eventually(within: .seconds(1)) { stream.collector.inactive }, "the tunnel ends within a second")

            let entry = try #require(await mesh.serverEntry { $0.requestID == "req-live" })
            #expect(entry.result == .closed)
            #expect(entry.reason?.contains("frontend>backend") == true)
            #expect(entry.bytesSent == 4 && entry.bytesReceived == 4)
            #expect(await eventually { mesh.serverRuntime.live.count == 0 })
        }
    }

    @Test func aStreamWaitsForItsWorkloadCertificate() async throws {
        try await LoopbackMesh.run(clientCredentials: { try $0.credentials(node: "a") }) { mesh in
            async let stream = mesh.open()
            try await Task.sleep(for: .milliseconds(100))
            try mesh.clientTLS.update(mesh.ca.credentials(node: "a", workloads: [Mesh.frontend]))
            let opened = try await stream
            try await opened.send("late")
            #expect(await eventually { opened.collector.received == "late" })
            await opened.close()
        }
    }

    @Test func aResponseLargerThanTheStreamWindowArrivesWhole() async throws {
        // The request-response pattern: the client sends its request and half-closes, the workload answers and
        // closes. The answer is larger than the client's stream window (64 KiB here) and the client is slow to read,
        // so the answer's tail (less than the stream's 256 KiB high watermark: the relay keeps reading the workload)
        // waits in the server's HTTP/2 flow-control buffer when the workload's socket closes.
        var configuration = HBONEConnectionPool.Configuration()
        configuration.streamWindow = 64 << 10
        let size = 228 << 10
        try await LoopbackMesh.run(farewell: String(repeating: "x", count: size), pool: configuration) { mesh in
            let stream = try await mesh.open(reading: false)
            stream.channel.read()  // one read, as a relay's first: then nothing until the client catches up
            try await stream.closeOutput()
            #expect(await eventually { mesh.workload.finished == 1 }, "the workload answers and closes meanwhile")
            try await stream.startReading()
            #expect(await eventually { stream.collector.inactive })
            #expect(stream.collector.received.utf8.count == size)
            #expect(stream.collector.inputClosed == 1)
            let entry = try #require(await mesh.serverEntry { $0.result == .forwarded })
            #expect(entry.bytesReceived == UInt64(size), "the server counts all it read from the workload as forwarded")
        }
    }

    @Test func dataSentBeforeTheAnswerReachesTheWorkload() async throws {
        try await LoopbackMesh.run { mesh in
            let stream = try await mesh.open(earlyData: "early")
            #expect(await eventually(within: .seconds(1)) { mesh.workload.received == "early" })
            try await stream.send("+late")
            #expect(await eventually { stream.collector.received == "early+late" }, "order is kept once frames flow")
        }
    }
}
