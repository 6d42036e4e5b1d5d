import Foundation
import Testing
import WeftAPI
import WeftControlPlane
import WeftCore
import WeftIdentity
import WeftNode
import X509

/// The node API end to end: a weftd in this process, nodes joining and watching over real gRPC and mTLS.
@Suite("Node API", .serialized)
struct NodeAPITests {
    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("weftd-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func withControlPlane(
        configure: (inout ControlPlaneConfiguration) -> Void = { _ in },
        _ body: (RunningControlPlane) async throws -> Void
    ) async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let control = try await RunningControlPlane.start(dataDirectory: directory, configure: configure)
        do {
            try await body(control)
            await control.stop()
        } catch {
            await control.stop()
            throw error
        }
    }

    /// A control plane with nodes "host-a" and "host-b" joined and watching; both stopped afterwards.
    static func withTwoNodes(
        _ body: (RunningControlPlane, WatchingNode, WatchingNode) async throws -> Void
    ) async throws {
        try await withControlPlane { control in
            let hostA = try WatchingNode(
                control: control, credentials: try await WatchingNode.join(control, name: "host-a"))
            let hostB = try WatchingNode(
                control: control, credentials: try await WatchingNode.join(control, name: "host-b"))
            do {
                try await body(control, hostA, hostB)
            } catch {
                await hostA.stop()
                await hostB.stop()
                throw error
            }
            await hostA.stop()
            await hostB.stop()
        }
    }

    @Test func joinIssuesTheNodeIdentityAndATokenWorksOnce() async throws {
        try await Self.withControlPlane { control in
            let token = try await control.joinToken(for: "host-a")
            let credentials = try await ControlPlaneJoin.join(
                address: control.ready.joinListener, token: token, nodeName: "host-a")
            let leaf = try PEM.certificates(fromPEM: credentials.certificateChainPEM)[0]
            #expect(SPIFFEID(certificate: leaf) == .node(trustDomain: "weft.local", name: "host-a"))
            #expect(
                credentials.trustBundlePEM
                    == (try String(contentsOfFile: control.ready.trustBundleFile, encoding: .utf8)))

            await #expect(throws: ControlPlaneClientError.self) {
                _ = try await ControlPlaneJoin.join(
                    address: control.ready.joinListener, token: token, nodeName: "host-a")
            }
        }
    }

    @Test func weftdUsesTheUsersOwnCAFromPEMFiles() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let users = try CertificateAuthority.generateRoot(trustDomain: "corp.example")
        try users.certificatePEM.write(toFile: "\(directory)/ca.pem", atomically: true, encoding: .utf8)
        try users.privateKeyPEM.write(toFile: "\(directory)/ca-key.pem", atomically: true, encoding: .utf8)
        try await Self.withControlPlane(configure: { configuration in
            configuration.registry.trustDomain = "corp.example"
            configuration.authorityFiles = .init(
                certificate: "\(directory)/ca.pem", privateKey: "\(directory)/ca-key.pem")
        }) { control in
            #expect(try String(contentsOfFile: control.ready.trustBundleFile, encoding: .utf8) == users.trustBundlePEM)
            let credentials = try await WatchingNode.join(control, name: "host-a")
            let chain = try PEM.certificates(fromPEM: credentials.certificateChainPEM)
            let identity = try await verifyChain(
                leafAndIntermediates: chain, trustBundle: users.trustBundle, trustDomain: "corp.example")
            #expect(identity == .node(trustDomain: "corp.example", name: "host-a"))
        }
    }

    @Test func joinRefusesBadTokens() async throws {
        try await Self.withControlPlane { control in
            let join = control.ready.joinListener
            func refusal(_ token: String, node: String) async -> String {
                do {
                    _ = try await ControlPlaneJoin.join(address: join, token: token, nodeName: node)
                    return "joined"
                } catch { return error.description }
            }
            let token = try await control.joinToken(for: "host-a")
            let parts = token.split(separator: ".").map(String.init)

            #expect(await refusal(token, node: "host-b").contains("is for node 'host-a'"))
            let wrongSecret = [parts[0], parts[1], String(repeating: "0", count: parts[2].count), parts[3]].joined(
                separator: ".")
            #expect(await refusal(wrongSecret, node: "host-a").contains("unknown token"))
            let wrongCA = [parts[0], parts[1], parts[2], String(repeating: "a", count: 64)].joined(separator: ".")
            #expect(await refusal(wrongCA, node: "host-a").contains("is not the one the token names"))
            #expect(await refusal("not-a-token", node: "host-a").contains("not a Weft join token"))

            let revoked = try await control.joinToken(for: "host-c")
            let id = revoked.split(separator: ".")[1]
            #expect(try await control.admin(.DELETE, "/v1/node-tokens/\(id)").status.code < 300)
            #expect(await refusal(revoked, node: "host-c").contains("revoked"))

            let expiring = try await control.joinToken(for: "host-d", ttlSeconds: 1)
            try await Task.sleep(for: .milliseconds(1500))
            #expect(await refusal(expiring, node: "host-d").contains("expired"))

            // The good token still works after all that.
            #expect(await refusal(token, node: "host-a") == "joined")
        }
    }

    @Test func aNodeGetsCertificatesOnlyForServicesThatRunOnIt() async throws {
        try await Self.withTwoNodes { control, hostA, hostB in
            try await hostA.register(["frontend": ["198.18.0.11:9000"]])
            try await hostB.register(["backend": ["198.18.0.12:8080"]])

            let frontend = SPIFFEID.workload(trustDomain: "weft.local", service: "frontend")
            let backend = SPIFFEID.workload(trustDomain: "weft.local", service: "backend")
            let own = try CertificateRequestFactory.make(for: frontend)
            let signed = try await hostA.session.signCertificate(
                identity: frontend, csrPEM: own.csrPEM, ttl: .seconds(120))
            let leaf = try PEM.certificates(fromPEM: signed.chainPEM)[0]
            #expect(SPIFFEID(certificate: leaf) == frontend)
            #expect(signed.notAfter.timeIntervalSinceNow < 125)

            let stolen = try CertificateRequestFactory.make(for: backend)
            await #expect {
                _ = try await hostA.session.signCertificate(identity: backend, csrPEM: stolen.csrPEM)
            } throws: { error in
                "\(error)".contains("has no endpoint of service backend")
            }
            // A CSR for another identity than the one asked for is refused too.
            await #expect {
                _ = try await hostA.session.signCertificate(identity: frontend, csrPEM: stolen.csrPEM)
            } throws: { error in
                "\(error)".contains("certificate request refused")
            }
            // An endpoint at an address that is not the node's own is refused, and admins see why.
            _ = try await hostA.session.register(
                NodeRegistration(
                    addresses: [IPAddress("198.18.0.11")!],
                    services: [
                        .init(name: ServiceName(name: "backend"), endpoints: [IPSocketAddress("198.18.0.12:8080")!])
                    ]),
                version: "x")
            let shown = try await control.admin(.GET, "/v1/nodes/host-a").json()
            let refused = try #require(shown["refused_claims"] as? [[String: Any]], "\(shown)")
            #expect(refused.first?["reason"] as? String == "address-not-fixed")
            #expect((refused.first?["message"] as? String)?.contains("is not one of node host-a's addresses") == true)
            #expect((shown["endpoints"] as? [Any])?.isEmpty == true)
            // Another node's identity.
            let otherNode = try CertificateRequestFactory.make(for: .node(trustDomain: "weft.local", name: "host-b"))
            await #expect(throws: ControlPlaneClientError.self) {
                _ = try await hostA.session.signCertificate(
                    identity: .node(trustDomain: "weft.local", name: "host-b"), csrPEM: otherNode.csrPEM)
            }
        }
    }

    @Test func aClientOnlyWorkloadGetsItsCertificateButCannotTakeAServiceOfAnotherNode() async throws {
        try await Self.withTwoNodes { control, hostA, hostB in
            try await hostB.register(["backend": ["198.18.0.12:8080"]])
            // host-a runs a client of `frontend` (no endpoints) and claims a client of `backend`, which runs on host-b.
            _ = try await hostA.session.register(
                NodeRegistration(
                    addresses: [IPAddress("198.18.0.11")!],
                    services: [.init(name: ServiceName(name: "frontend")), .init(name: ServiceName(name: "backend"))]),
                version: "x")
            let frontend = SPIFFEID.workload(trustDomain: "weft.local", service: "frontend")
            let request = try CertificateRequestFactory.make(for: frontend)
            let signed = try await hostA.session.signCertificate(identity: frontend, csrPEM: request.csrPEM)
            #expect(SPIFFEID(certificate: try PEM.certificates(fromPEM: signed.chainPEM)[0]) == frontend)

            let backend = SPIFFEID.workload(trustDomain: "weft.local", service: "backend")
            let stolen = try CertificateRequestFactory.make(for: backend)
            await #expect {
                _ = try await hostA.session.signCertificate(identity: backend, csrPEM: stolen.csrPEM)
            } throws: { error in
                "\(error)".contains("has no endpoint of service backend")
            }
        }
    }

    @Test func theNodeListenerRequiresANodeCertificateFromThisMesh() async throws {
        try await Self.withControlPlane { control in
            let real = try await WatchingNode.join(control, name: "host-a")
            // A certificate from another CA, for the same node name.
            let otherCA = try CertificateAuthority.generateRoot(trustDomain: "weft.local")
            let request = try CertificateRequestFactory.make(for: .node(trustDomain: "weft.local", name: "host-a"))
            let forged = try otherCA.issueWorkloadCertificate(
                csrPEM: request.csrPEM, for: .node(trustDomain: "weft.local", name: "host-a"), ttl: .seconds(300))
            var credentials = real
            credentials.certificateChainPEM = forged.certificateChainPEM
            credentials.privateKeyPEM = request.privateKeyPEM
            let (session, task) = try WatchingNode.connect(control, credentials: credentials)
            await #expect(throws: ControlPlaneClientError.self) {
                _ = try await session.register(NodeRegistration(addresses: [], services: []), version: "x")
            }
            session.close()
            task.cancel()
        }
    }

    @Test func anIntentionChangeReachesAWatchingNodeWithinOneSecond() async throws {
        try await Self.withControlPlane { control in
            let node = try WatchingNode(
                control: control, credentials: try await WatchingNode.join(control, name: "host-b"))
            defer { Task { await node.stop() } }
            try await node.register(["backend": ["198.18.0.12:8080"]])
            let first = try await node.next { $0.config.nodeConfig.services.contains { $0.name == "backend" } }
            #expect(first.config.nodeConfig.services.first { $0.name == "backend" }?.vip != nil)
            let frontend = ServiceName(name: "frontend")
            let backend = ServiceName(name: "backend")
            #expect(first.config.policy.evaluate(source: frontend, destination: backend).allowed)

            let start = ContinuousClock.now
            let write = try await control.admin(
                .PUT, "/v1/intentions", json: #"{"source": "frontend", "destination": "backend", "action": "deny"}"#)
            #expect(write.status.code < 300)
            let denied = try await node.next(within: .seconds(1)) {
                !$0.config.policy.evaluate(source: frontend, destination: backend).allowed
            }
            let elapsed = ContinuousClock.now - start
            #expect(elapsed < .seconds(1), "the intention took \(elapsed) to reach the node")
            // Incremental: only the new intention travelled, not the services or the trust bundle.
            #expect(denied.summary.changed == ["intention/frontend>backend"])

            // An intention between services that do not run on this node does not reach it.
            try await control.admin(
                .PUT, "/v1/intentions", json: #"{"source": "a", "destination": "b", "action": "deny"}"#)
            try await control.admin(
                .PUT, "/v1/intentions", json: #"{"source": "frontend", "destination": "backend", "action": "allow"}"#)
            let allowed = try await node.next {
                $0.config.policy.evaluate(source: frontend, destination: backend).allowed
            }
            #expect(!allowed.config.policy.intentions.contains { $0.key == "a>b" })
        }
    }

    /// Deleting a node ends its open config stream (it would otherwise go on receiving the whole mesh's config),
    /// and its certificate opens no new one.
    @Test func aDeletedNodesStreamIsCutOffAndItCannotWatchAgain() async throws {
        try await Self.withTwoNodes { control, hostA, hostB in
            _ = try await hostA.next { _ in true }
            _ = try await hostB.next { _ in true }
            let deleted = try await control.admin(.DELETE, "/v1/nodes/host-a")
            #expect(deleted.status.code < 300, "\(deleted.status)")
            // host-b's change of view (host-a's endpoints gone) is compiled; host-a's stream ends then.
            let ended = try await withThrowingTaskGroup(of: (any Error)?.self) { group in
                group.addTask {
                    do {
                        try await hostA.tasks[1].value
                        return nil
                    } catch {
                        return error
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(3))
                    return CancellationError()
                }
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
            #expect("\(String(describing: ended))".contains("host-a was deleted"), "\(String(describing: ended))")
            let again = try WatchingNode(control: control, credentials: hostA.credentials)
            await #expect(throws: (any Error).self) { _ = try await again.next(within: .seconds(2)) { _ in true } }
            await again.stop()
        }
    }

    /// Deleting a node revokes its certificates and an admin can revoke one: the serials reach every other node with
    /// the trust bundle, weftd refuses a revoked node certificate, and bad or unknown serials change nothing.
    @Test func deletingANodeOrRevokingACertificateReachesEveryNodesTrustBundle() async throws {
        try await Self.withTwoNodes { control, hostA, hostB in
            _ = try await hostA.next { _ in true }
            _ = try await hostB.next { _ in true }
            func serial(_ credentials: NodeCredentials) throws -> String {
                try #require(try PEM.certificates(fromPEM: credentials.certificateChainPEM, source: "test").first)
                    .serialHex
            }
            let serialB = try serial(hostB.credentials)
            let bad = try await control.admin(.POST, "/v1/certificates/not-hex/revoke")
            #expect(bad.status == .badRequest, "\(bad.status)")
            let unknown = try await control.admin(.POST, "/v1/certificates/abcdef/revoke")
            #expect(unknown.status == .notFound, "\(unknown.status)")

            let revoked = try await control.admin(.POST, "/v1/certificates/\(serialB.uppercased())/revoke")
            #expect(revoked.status == .ok, "\(revoked.status) \(String(decoding: revoked.body, as: UTF8.self))")
            #expect(try revoked.json()["reason"] as? String == "revoked-by-admin")
            let seenByA = try await hostA.next { $0.config.revokedSerials.contains(serialB) }
            #expect(seenByA.config.revokedSerials == [serialB])
            // weftd no longer takes host-b's revoked certificate as its credential.
            let refused = try WatchingNode(control: control, credentials: hostB.credentials)
            await #expect(throws: (any Error).self) { _ = try await refused.next(within: .seconds(2)) { _ in true } }
            await refused.stop()

            let serialA = try serial(hostA.credentials)
            let deleted = try await control.admin(.DELETE, "/v1/nodes/host-a")
            #expect(deleted.status.code < 300, "\(deleted.status)")
            let listed = try await control.admin(.GET, "/v1/certificates")
            let rows = try #require(try listed.json()["revoked"] as? [[String: Any]])
            #expect(
                Set(rows.compactMap { $0["serial_number"] as? String }).isSuperset(of: [serialA, serialB]), "\(rows)")
            #expect(
                rows.contains { $0["serial_number"] as? String == serialA && $0["reason"] as? String == "node-deleted" }
            )
        }
    }

    @Test func aSilentNodeIsMarkedDownAndItsEndpointsWithdrawn() async throws {
        try await Self.withControlPlane(configure: { $0.registry.nodeTimeout = .seconds(3) }) { control in
            let watcher = try WatchingNode(
                control: control, credentials: try await WatchingNode.join(control, name: "host-a"))
            defer { Task { await watcher.stop() } }
            let silent = try WatchingNode(
                control: control, credentials: try await WatchingNode.join(control, name: "host-b"))
            try await silent.register(["backend": ["198.18.0.12:8080"]])
            _ = try await watcher.next { update in
                update.config.nodeConfig.services.first { $0.name == "backend" }?.endpoints.count == 1
            }
            // Connected longer than the timeout: its heartbeats keep it up.
            try await Task.sleep(for: .milliseconds(3500))
            let whileConnected = try await control.admin(.GET, "/v1/nodes/host-b")
            #expect(try whileConnected.json()["status"] as? String == "up")
            await silent.stop()
            let withdrawn = try await watcher.next(within: .seconds(8)) { update in
                update.config.nodeConfig.services.first { $0.name == "backend" }?.endpoints.isEmpty == true
            }
            #expect(
                withdrawn.config.nodeConfig.services.contains { $0.name == "backend" },
                "the service stays, its endpoints go")
            let nodes = try await control.admin(.GET, "/v1/nodes/host-b")
            #expect(try nodes.json()["status"] as? String == "down")
        }
    }

    @Test func aRestartedWeftdKeepsStateAndNodesResumeWithoutAFullResend() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await RunningControlPlane.start(dataDirectory: directory)
        let credentials: NodeCredentials
        let cache = ConfigCache()
        do {
            credentials = try await WatchingNode.join(first, name: "host-b")
            let node = try WatchingNode(control: first, credentials: credentials, cache: cache)
            try await node.register(["backend": ["198.18.0.12:8080"]])
            try await first.admin(
                .PUT, "/v1/intentions", json: #"{"source": "frontend", "destination": "backend", "action": "deny"}"#)
            _ = try await node.next { $0.config.policy.intentions.count == 1 && !$0.config.nodeConfig.services.isEmpty }
            await node.stop()
            await first.stop()
        } catch {
            await first.stop()
            throw error
        }
        let held = cache.held
        let vip = cache.config?.nodeConfig.services.first?.vip

        let second = try await RunningControlPlane.start(dataDirectory: directory)
        do {
            #expect(second.ready.bootstrapTokenFile == nil, "the bootstrap token is made once")
            let node = try WatchingNode(control: second, credentials: credentials, cache: cache)
            let resumed = try await node.next { _ in true }
            #expect(
                resumed.summary.changed.isEmpty,
                "nothing is resent to a node that holds the current config: \(resumed.summary)")
            #expect(resumed.summary.removed.isEmpty)
            #expect(resumed.config.version >= held.version)
            #expect(resumed.config.nodeConfig.services.first?.vip == vip, "the VIP survives the restart")
            #expect(resumed.config.policy.intentions.count == 1)
            // And new changes flow again.
            try await second.admin(.POST, "/v1/mesh/stop-all")
            let stopped = try await node.next { $0.config.policy.stopAll }
            #expect(stopped.summary.changed == ["mesh"])
            await node.stop()
            await second.stop()
        } catch {
            await second.stop()
            throw error
        }
    }
}
