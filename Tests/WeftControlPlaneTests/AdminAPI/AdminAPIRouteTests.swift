import Foundation
import Logging
import Testing
import WeftAdminClient
import WeftCore
import WeftIdentity

@testable import WeftControlPlane

/// What each route does when the request is good, over real HTTPS against a real SQLite store.
@Suite("AdminAPI routes")
struct AdminAPIRouteTests {
    static let frontend = ServiceName(name: "frontend")
    static let backend = ServiceName(name: "backend")

    @Test func writesAppearInTheAuditLogWithActorBeforeAndAfter() async throws {
        try await AdminAPIFixture.with { fixture in
            let start = try await fixture.writer.audit(limit: 1000).nextAfter
            let created = try await fixture.writer.putService(
                ServiceRecord(name: ServiceName(name: "billing"), protocol: .http, ports: [8080], origin: .admin)
            )
            var changed = created.value
            changed.ports = [8080, 8443]
            try await fixture.writer.putService(changed, ifMatch: created.revision)

            let page = try await fixture.reader.audit(after: start)
            let service = page.entries.filter { $0.kind == "service" && $0.key == "default/billing" }
            #expect(service.count == 2)
            #expect(service.allSatisfy { $0.actor == "token:admin" })
            #expect(service[0].before == nil)
            #expect(service[0].after?.contains("8080") == true)
            #expect(service[1].before == service[0].after)
            #expect(service[1].after?.contains("8443") == true)
            #expect(service[0].action.contains("billing"))
            #expect(page.nextAfter == page.entries.last?.id)

            // Paging: after the last entry there is nothing, and next_after stays put.
            let empty = try await fixture.reader.audit(after: page.nextAfter)
            #expect(empty.entries.isEmpty)
            #expect(empty.nextAfter == page.nextAfter)
            let one = try await fixture.reader.audit(after: start, limit: 1)
            #expect(one.entries.count == 1)

            try await fixture.writer.deleteService(ServiceName(name: "billing"))
            let deletion = try await fixture.reader.audit(after: page.nextAfter).entries.first { $0.kind == "service" }
            #expect(deletion?.after == nil)
            #expect(deletion?.before?.contains("8443") == true)
        }
    }

    @Test func stopAllThenResumeFlipsAuthorize() async throws {
        try await AdminAPIFixture.with { fixture in
            try await fixture.writer.putIntention(
                Intention(source: .service(Self.frontend), destination: .service(Self.backend), action: .allow)
            )
            try await fixture.writer.setDefaultAction(.deny)
            let allowed = try await fixture.reader.authorize(source: Self.frontend, destination: Self.backend)
            #expect(allowed.allowed)
            #expect(allowed.intention == "frontend>backend")
            let other = try await fixture.reader.authorize(
                source: ServiceName(name: "batch"), destination: Self.backend)
            #expect(!other.allowed)
            #expect(other.reason.contains("default"))

            let stopped = try await fixture.writer.stopAll()
            #expect(stopped.value.stopAll)
            let denied = try await fixture.reader.authorize(source: Self.frontend, destination: Self.backend)
            #expect(!denied.allowed)
            #expect(denied.reason == "all traffic is stopped")
            #expect(try await fixture.reader.status().stopAll)

            let resumed = try await fixture.writer.resume()
            #expect(!resumed.value.stopAll)
            #expect(resumed.revision > stopped.revision)
            #expect(try await fixture.reader.authorize(source: Self.frontend, destination: Self.backend).allowed)

            let audit = try await fixture.reader.audit(limit: 1000).entries.map(\.action)
            #expect(audit.contains("stop all traffic"))
            #expect(audit.contains("resume traffic"))
        }
    }

    @Test func authorizeJudgesRequestsAndCallersWithoutIdentity() async throws {
        try await AdminAPIFixture.with { fixture in
            try await fixture.writer.putIntention(
                Intention(
                    source: .any, destination: .service(Self.backend), action: .allow,
                    permissions: [
                        L7Permission(action: .deny, methods: ["DELETE"]), L7Permission(action: .allow, pathPrefix: "/"),
                    ]
                )
            )
            try await fixture.writer.setDefaultAction(.deny)
            #expect(
                try await fixture.reader.authorize(source: nil, destination: Self.backend, method: "GET", path: "/x")
                    .allowed)
            #expect(
                try await !fixture.reader.authorize(
                    source: Self.frontend, destination: Self.backend, method: "DELETE", path: "/x"
                ).allowed)
        }
    }

    @Test func servicesGetAVIPThatPutCannotChange() async throws {
        try await AdminAPIFixture.with { fixture in
            let response = try await fixture.writer.send(
                .PUT, "/v1/services/payments/api",
                body: Data(
                    json: #"{"protocol": "grpc", "ports": [9000], "vip": "240.9.9.9", "labels": {"team": "pay"}}"#),
                ifMatch: 0
            )
            #expect(response.status == .ok, "\(response.text)")
            let created = try await fixture.writer.service(ServiceName(namespace: "payments", name: "api"))
            let vip = try #require(created.value.vip)
            #expect(NodeConfig.defaultVIPRange.contains(vip))
            #expect(created.value.origin == .admin)
            #expect(created.value.labels == ["team": "pay"])
            #expect(response.etag == created.revision)

            var edited = created.value
            edited.vip = IPAddress("240.1.2.3")
            edited.meshMode = .permissive
            let replaced = try await fixture.writer.putService(edited, ifMatch: created.revision)
            #expect(replaced.value.vip == vip)
            #expect(replaced.value.meshMode == .permissive)

            let external = try await fixture.writer.putService(
                ServiceRecord(
                    name: ServiceName(name: "legacy-db"), ports: [5432], origin: .external,
                    externalAddresses: [IPSocketAddress("198.18.0.20:5432")!]
                )
            )
            #expect(external.value.vip != nil && external.value.vip != vip)

            let list = try await fixture.reader.services()
            #expect(Set(list.map(\.value.name.description)) == ["payments/api", "legacy-db"])
            #expect(list.first { $0.value.name.name == "api" }?.revision == replaced.revision)

            try await fixture.writer.deleteService(
                ServiceName(namespace: "payments", name: "api"), ifMatch: replaced.revision)
            #expect(try await fixture.reader.services().count == 1)
        }
    }

    @Test func intentionsAreAddressedBySourceAndDestinationInPaths() async throws {
        try await AdminAPIFixture.with { fixture in
            let namespaced = Intention(
                source: .service(ServiceName(namespace: "payments", name: "api")), destination: .any, action: .deny,
                description: "payments talk to nobody"
            )
            try await fixture.writer.putIntention(namespaced)
            let raw = try await fixture.reader.send(.GET, "/v1/intentions/payments~api/*")
            #expect(raw.status == .ok, "\(raw.text)")
            let fetched = try await fixture.reader.intention(source: namespaced.source, destination: .any)
            #expect(fetched.value == namespaced)
            #expect(raw.etag == fetched.revision)
            #expect(try await fixture.reader.intentions().map(\.value) == [namespaced])

            // Upsert: the same pair again replaces it.
            var allow = namespaced
            allow.action = .allow
            try await fixture.writer.putIntention(allow)
            #expect(try await fixture.reader.intentions().map(\.value.action) == [.allow])

            try await fixture.writer.deleteIntention(source: namespaced.source, destination: .any)
            #expect(try await fixture.reader.intentions().isEmpty)
        }
    }

    @Test func meshSettingsAndTelemetry() async throws {
        try await AdminAPIFixture.with { fixture in
            let initial = try await fixture.reader.mesh()
            #expect(initial.value == MeshSettings())
            #expect(initial.revision == 0)

            try await fixture.writer.setMeshMode(.permissive)
            let mode = try await fixture.writer.setDefaultAction(.deny)
            #expect(mode.value.meshMode == .permissive)
            #expect(mode.value.defaultAction == .deny)

            var settings = mode.value
            settings.egress = .refuse
            let replaced = try await fixture.writer.putMesh(settings, ifMatch: mode.revision)
            #expect(replaced.value.egress == .refuse)

            let telemetry = TelemetrySettings(
                metricsPush: .statsd, metricsEndpoint: "198.18.0.30:8125", pushInterval: 10)
            let stored = try await fixture.writer.putTelemetry(telemetry, ifMatch: replaced.revision)
            #expect(stored.value == telemetry)
            let read = try await fixture.reader.telemetry()
            #expect(read.value == telemetry)
            #expect(read.revision == stored.revision)
            #expect(try await fixture.reader.mesh().value.telemetry == telemetry)

            // The pieces of the settings changed one by one share one revision; a stale one is refused.
            await #expect(throws: AdminClientError.self) {
                try await fixture.writer.putTelemetry(TelemetrySettings(), ifMatch: replaced.revision)
            }
            let status = try await fixture.reader.status()
            #expect(status.meshMode == .permissive && status.defaultAction == .deny && status.egress == .refuse)
        }
    }

    @Test func joinTokensShowTheirSecretOnceAndCanBeRevoked() async throws {
        try await AdminAPIFixture.with { fixture in
            let created = try await fixture.writer.createJoinToken(node: "host-a", ttlSeconds: 3600)
            #expect(created.token.hasPrefix("weftjoin.\(created.id)."))
            #expect(created.token.hasSuffix(fixture.authority.trustBundleFingerprint))
            #expect(created.node == "host-a")

            let raw = try await fixture.reader.send(.GET, "/v1/node-tokens")
            #expect(!raw.text.contains("secret"))
            #expect(!raw.text.contains(created.token))
            let listed = try await fixture.reader.joinTokens()
            #expect(listed.map(\.state) == ["valid"])
            #expect(listed.first?.createdBy == "token:admin")
            #expect(try await fixture.reader.status().counts.joinTokensValid == 1)

            try await fixture.writer.revokeJoinToken(id: created.id)
            #expect(try await fixture.reader.joinTokens().map(\.state) == ["revoked"])
        }
    }

    @Test func adminTokensCanBeCreatedUsedAndDeleted() async throws {
        try await AdminAPIFixture.with { fixture in
            let created = try await fixture.writer.createAdminToken(name: "ci", scope: .read)
            let text = try #require(created.token)
            let raw = try await fixture.writer.send(.GET, "/v1/admin-tokens")
            #expect(!raw.text.contains("secret") && !raw.text.contains(text))
            #expect(try await fixture.writer.adminTokens().map(\.name).sorted() == ["admin", "ci", "viewer"])

            let ci = try AdminClient(
                baseURL: fixture.baseURL, token: text, trustedCAPEM: fixture.authority.trustBundlePEM)
            #expect(try await ci.status().counts.adminTokens == 3)
            try await fixture.writer.deleteAdminToken(id: created.id)
            await #expect(throws: AdminClientError.self) { try await ci.status() }
            let response = try await ci.send(.GET, "/v1/status")
            #expect(response.status == .unauthorized)
            try await ci.shutdown()
        }
    }

    @Test func nodesShowEndpointsAndStreamsAndTakeEgressAndDeletion() async throws {
        let streams = FixedNodeStatus([
            NodeStreamStatus(node: "host-a", connected: true, sentVersion: 7, ackedVersion: 6, lastChange: Date())
        ])
        try await AdminAPIFixture.with(nodeStatus: streams) { fixture in
            let token = try await fixture.registry.createJoinToken(
                nodeName: "host-a", ttl: .seconds(600), actor: "test")
            let csr = try CertificateRequestFactory.make(for: .node(trustDomain: "weft.local", name: "host-a"))
            _ = try await fixture.registry.join(
                tokenText: token.token.text, nodeName: "host-a", csrPEM: csr.csrPEM, peer: nil)
            try await fixture.registry.register(
                node: "host-a", addresses: [IPAddress("198.18.0.11")!], version: "0.1.0",
                services: [
                    DiscoveredService(
                        name: Self.backend, protocol: .http, endpoints: [IPSocketAddress("198.18.0.11:8080")!])
                ]
            )

            let nodes = try await fixture.reader.nodes()
            #expect(nodes.map(\.record.name) == ["host-a"])
            let node = try await fixture.reader.node("host-a")
            #expect(node.endpoints.map(\.port) == [8080])
            #expect(node.stream?.ackedVersion == 6)
            #expect(node.record.addresses == [IPAddress("198.18.0.11")!])
            #expect(try await fixture.reader.status().nodeStreams.map(\.node) == ["host-a"])
            #expect(
                try await fixture.reader.certificates().issued.map(\.identity) == ["spiffe://weft.local/node/host-a"])

            let refused = try await fixture.writer.setNodeEgress("host-a", egress: .refuse, ifMatch: node.revision)
            #expect(refused.value.egress == .refuse)
            let followsMesh = try await fixture.writer.setNodeEgress("host-a", egress: nil)
            #expect(followsMesh.value.egress == nil)

            let stale = try await fixture.writer.send(.DELETE, "/v1/nodes/host-a", ifMatch: node.revision)
            #expect(stale.status == .conflict)
            try await fixture.writer.deleteNode("host-a", ifMatch: followsMesh.revision)
            #expect(try await fixture.reader.nodes().isEmpty)
        }
    }

    @Test func certificatesTrustBundleAndOpenAPINeedNoSecrets() async throws {
        try await AdminAPIFixture.with { fixture in
            let certificates = try await fixture.reader.certificates()
            #expect(certificates.authority.isRoot)
            #expect(certificates.authority.trustDomain == "weft.local")
            #expect(certificates.authority.fingerprint.count == 64)
            #expect(certificates.authority.notAfter > Date())

            // No token needed for these two.
            let bundle = try await fixture.anonymous.trustBundle()
            #expect(bundle == fixture.authority.trustBundlePEM)
            #expect(!bundle.contains("PRIVATE KEY"))
            let document = try await fixture.anonymous.openAPIDocument()
            #expect(document.hasPrefix("openapi: 3.1"))
        }
    }

    @Test func headRequestsAnswerLikeGetWithoutABody() async throws {
        try await AdminAPIFixture.with { fixture in
            let head = try await fixture.reader.send(.HEAD, "/v1/status")
            #expect(head.status == .ok)
            #expect(head.body.isEmpty)
            #expect(try await fixture.anonymous.send(.HEAD, "/v1/status").status == .unauthorized)
        }
    }
}

/// A node status source with fixed answers.
struct FixedNodeStatus: NodeStatusSource {
    var statuses: [NodeStreamStatus]
    init(_ statuses: [NodeStreamStatus]) { self.statuses = statuses }
    func nodeStreamStatus() -> [NodeStreamStatus] { statuses }
}

/// Starting and stopping: TLS by default, plaintext only on loopback with the flag, cancellation stops the server.
@Suite("AdminAPI server")
struct AdminServerTests {
    @Test func plaintextIsRefusedUnlessLoopbackAndFlagged() throws {
        let flaggedButPublic = AdminServerConfiguration(host: "0.0.0.0", port: 0, allowPlaintextOnLoopback: true)
        #expect(throws: AdminServerConfigurationError.self) { try flaggedButPublic.validate() }
        do { try flaggedButPublic.validate() } catch { #expect(error.description.contains("loopback")) }
        #expect(throws: AdminServerConfigurationError.self) {
            try AdminServerConfiguration(host: "198.18.0.1", port: 0, allowPlaintextOnLoopback: true).validate()
        }
        let loopbackUnflagged = AdminServerConfiguration(host: "127.0.0.1", port: 0)
        #expect(throws: AdminServerConfigurationError.self) { try loopbackUnflagged.validate() }
        try AdminServerConfiguration(host: "127.0.0.1", port: 0, allowPlaintextOnLoopback: true).validate()
        try AdminServerConfiguration(host: "::1", port: 0, allowPlaintextOnLoopback: true).validate()
        #expect(throws: AdminServerConfigurationError.self) {
            try AdminServerConfiguration(
                host: "127.0.0.1", port: 0, tls: .init(certificateChainPEM: "nope", privateKeyPEM: "nope")
            ).validate()
        }
        #expect(throws: AdminServerConfigurationError.self) {
            try AdminServerConfiguration(host: "weft.example", port: 0).validate()
        }
        #expect(AdminServerConfiguration().port == 15443 && AdminServerConfiguration().host == "0.0.0.0")
    }

    @Test func aServerThatMayNotServePlaintextDoesNotStart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "weft-admin-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("weft.sqlite").path)
        let registry = Registry(
            store: store, authority: try CertificateAuthority.generateRoot(trustDomain: "weft.local"),
            configuration: .init())
        let server = AdminServer(
            configuration: AdminServerConfiguration(host: "0.0.0.0", port: 0, allowPlaintextOnLoopback: true),
            api: AdminAPI(registry: registry), logger: quietLogger
        )
        await #expect(throws: AdminServerConfigurationError.self) { try await server.run() }
        await #expect(throws: AdminServerConfigurationError.self) { try await server.listeningPort() }
        await store.close()
    }

    @Test func plaintextOnLoopbackServesAndCancellationStopsIt() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "weft-admin-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("weft.sqlite").path)
        try await store.migrate()
        let registry = Registry(
            store: store, authority: try CertificateAuthority.generateRoot(trustDomain: "weft.local"),
            configuration: .init())
        let token = try await registry.createAdminToken(name: "admin", scope: .admin, actor: "test")
        let server = AdminServer(
            configuration: AdminServerConfiguration(host: "127.0.0.1", port: 0, allowPlaintextOnLoopback: true),
            api: AdminAPI(registry: registry), logger: quietLogger
        )
        let running = Task { try await server.run() }
        let port = try await server.listeningPort()
        let client = try AdminClient(baseURL: "http://127.0.0.1:\(port)", token: token.text)
        #expect(try await client.status().trustDomain == "weft.local")

        let started = ContinuousClock.now
        running.cancel()
        _ = await running.result
        #expect(ContinuousClock.now - started < .seconds(5))
        let refused = await #expect(throws: AdminClientError.self) { try await client.status() }
        #expect(refused?.description.contains("127.0.0.1:\(port)") == true, "\(String(describing: refused))")
        #expect(ContinuousClock.now - started < .seconds(5))
        try await client.shutdown()
        await store.close()
    }
}
