import Foundation
import Testing
import WeftCore

@testable import WeftControlPlane

/// A record in the store that cannot be decoded (edited by hand, or from a newer weftd) is left out: the rest of
/// the mesh still compiles and reaches nodes, and `/v1/status` names it.
@Suite("Undecodable records", .serialized)
struct UndecodableRecordTests {
    @Test func aCorruptRowIsLeftOutConfigStillReachesNodesAndStatusListsIt() async throws {
        try await NodeAPITests.withControlPlane { control in
            let store = try SQLiteStore(path: control.configuration.sqlitePath)
            try await store.migrate()
            try await store.apply(
                [
                    .put(.service, "default/broken", Data(#"{"name": {"name": 5}}"#.utf8)),
                    .put(.intention, "frontend/backend", Data("not json".utf8)),
                ],
                audit: AuditContext(actor: "test", action: "hand edit"))

            let node = try WatchingNode(
                control: control, credentials: try await WatchingNode.join(control, name: "host-a"))
            do {
                try await node.register(["backend": ["198.18.0.12:8080"]])
                let update = try await node.next { $0.config.nodeConfig.services.contains { $0.name == "backend" } }
                #expect(!update.config.nodeConfig.services.contains { $0.name == "broken" })

                // Later changes still go out.
                let write = try await control.admin(
                    .PUT, "/v1/intentions", json: #"{"source": "a", "destination": "backend", "action": "deny"}"#)
                #expect(write.status.code < 300)
                _ = try await node.next {
                    !$0.config.policy.evaluate(
                        source: ServiceName(name: "a"), destination: ServiceName(name: "backend")
                    ).allowed
                }

                let status = try await control.admin(.GET, "/v1/status")
                #expect(status.status == .ok)
                let view = try Self.decoder.decode(AdminStatus.self, from: status.body)
                #expect(view.undecodableRecords.map(\.kind) == ["intention", "service"])
                #expect(view.undecodableRecords.map(\.name) == ["frontend/backend", "default/broken"])
                #expect(view.undecodableRecords[0].reason == "not valid JSON")
                #expect(view.undecodableRecords[1].reason.hasPrefix("'name'"), "\(view.undecodableRecords[1])")
                #expect(try await control.admin(.GET, "/v1/services").status == .ok, "listings leave it out")

                // Deleting the row clears it from status.
                try await store.apply([.delete(.service, "default/broken")], audit: nil)
                let deadline = ContinuousClock.now + .seconds(5)
                var remaining: [UndecodableRecord] = []
                repeat {
                    let body = try await control.admin(.GET, "/v1/status").body
                    remaining = try Self.decoder.decode(AdminStatus.self, from: body).undecodableRecords
                } while remaining.count != 1 && ContinuousClock.now < deadline
                #expect(remaining.map(\.kind) == ["intention"])
            } catch {
                await node.stop()
                await store.close()
                throw error
            }
            await node.stop()
            await store.close()
        }
    }

    static let decoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    static func object(_ kind: ObjectKind, _ key: String, _ json: String, revision: Int64) -> StoredObject {
        StoredObject(kind: kind, key: key, body: Data(json.utf8), revision: revision)
    }

    @Test func anUnreadableEndpointsRecordNeitherBlocksRegistrationNorFreesClientNames() async throws {
        try await RegistryTests.withRegistry(.sqlite) { registry, store in
            try await RegistryTests.addNode("host-a", to: store)
            try await RegistryTests.addNode("host-z", to: store)
            try await store.apply(
                [
                    .put(.nodeEndpoints, "host-z", Data("[{".utf8)),
                    .put(.nodeEndpoints, "host-a", Data("{}".utf8)),
                ], audit: nil)
            // An admin-defined service not placed yet: host-z may serve it, its endpoints cannot be read.
            try await registry.putService(
                ServiceRecord(name: ServiceName(name: "backend"), ports: [8080], origin: .admin), ifMatch: nil,
                actor: "test")
            let address = IPAddress("198.18.0.11")!
            try await registry.register(
                node: "host-a", addresses: [address], version: "t",
                services: [
                    DiscoveredService(
                        name: ServiceName(name: "web"), protocol: .http,
                        endpoints: [IPSocketAddress(address: address, port: 8080)]),
                    DiscoveredService(name: ServiceName(name: "backend"), protocol: .http, endpoints: []),
                ])
            let own = try await registry.one(.nodeEndpoints, "host-a", as: [EndpointRecord].self)
            #expect(own?.value.map(\.service) == [ServiceName(name: "web")], "its own unreadable record is replaced")
            let node = try #require(try await registry.node("host-a"))
            #expect(
                node.value.clientWorkloads == nil,
                "host-z's endpoints cannot be read, so 'backend' is not known to be free for a client")
            #expect(node.value.refusedClaims?.map(\.reason) == [.notPlaced])
            #expect(try await registry.service(ServiceName(name: "backend"))?.value.placement == nil)
        }
    }

    @Test func aRecordThatBreaksKeepsItsLastReadableValue() throws {
        var state = MeshState()
        let intention = Intention(
            source: .service(ServiceName(name: "a")), destination: .service(ServiceName(name: "b")), action: .deny)
        let good = StoredObject(
            kind: .intention, key: intention.key, body: StoredCoding.encode(intention), revision: 1)
        _ = state.apply(ChangeFeed(revision: 1, upserts: [good], deletions: []))
        let dirty = state.apply(
            ChangeFeed(
                revision: 2, upserts: [Self.object(.intention, intention.key, #"{"action": 7}"#, revision: 2)],
                deletions: []))
        #expect(dirty.isEmpty, "nothing to recompile")
        #expect(state.intentions[intention.key] == intention, "the deny stays in force")
        #expect(state.undecodable.count == 1)

        _ = state.apply(ChangeFeed(revision: 3, upserts: [good], deletions: []))
        #expect(state.undecodable.isEmpty, "fixed")
    }

    @Test func anUndecodableRevocationStillRevokesItsSerial() throws {
        var state = MeshState()
        let dirty = state.apply(
            ChangeFeed(
                revision: 1, upserts: [Self.object(.revokedCertificate, "0badc0de", "{", revision: 1)], deletions: []))
        #expect(dirty.revocations)
        #expect(state.revoked["0badc0de"]?.serialNumber == "0badc0de", "fail closed")
        #expect(state.revoked["0badc0de"]!.notAfter > Date())
        #expect(state.undecodable.values.map(\.kind) == ["revoked-certificate"])
    }
}
