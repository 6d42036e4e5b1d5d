import Foundation
import Testing
import WeftCore
import WeftIdentity

@testable import WeftControlPlane

/// Registry rules on both store backends: VIPs, registrations racing, validation that changes nothing.
@Suite("Registry", .serialized)
struct RegistryTests {
    static let authority = try! CertificateAuthority.generateRoot(trustDomain: "weft.local")

    static func withRegistry(_ backend: StoreBackend, _ body: (Registry, any Store) async throws -> Void) async throws {
        try await withStoreFixture(backend) { _, store in
            try await body(Registry(store: store, authority: authority, configuration: RegistryConfiguration()), store)
        }
    }

    /// A node record as a join leaves it.
    static func addNode(_ name: String, to store: any Store) async throws {
        try await store.apply(
            [.put(.node, name, StoredCoding.encode(NodeRecord(name: name, joinedAt: Date())))],
            audit: AuditContext(actor: "test", action: "add node")
        )
    }

    @Test(arguments: StoreBackend.allCases)
    func nodesRegisteringOneNewServiceAtOnceAllSucceed(_ backend: StoreBackend) async throws {
        try await Self.withRegistry(backend) { registry, store in
            let count = 12
            for index in 0..<count { try await Self.addNode("node-\(index)", to: store) }
            // The first node to register a service owns it; an admin lets the others serve it too.
            let register: @Sendable (Int) async throws -> Void = { index in
                let address = IPAddress("198.18.0.\(index + 1)")!
                try await registry.register(
                    node: "node-\(index)", addresses: [address], version: "t",
                    services: [
                        DiscoveredService(
                            name: ServiceName(name: "shared"), protocol: .http,
                            endpoints: [IPSocketAddress(address: address, port: UInt16(8000 + index % 3))])
                    ]
                )
            }
            try await register(0)
            for index in 1..<count {
                try await registry.allowNode("node-\(index)", for: ServiceName(name: "shared"), actor: "test")
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 1..<count {
                    group.addTask { try await register(index) }
                }
                try await group.waitForAll()
            }
            let service = try #require(try await registry.service(ServiceName(name: "shared")))
            #expect(service.value.ports == [8000, 8001, 8002], "ports widen to every node's")
            #expect(try await store.objects(.vipClaim).count == 1, "one VIP for one service")
            let nodes = try await registry.nodes()
            #expect(nodes.reduce(0) { $0 + $1.endpoints.count } == count)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func vipsAreUniqueStableAndFreedOnDelete(_ backend: StoreBackend) async throws {
        try await Self.withRegistry(backend) { registry, store in
            let a = try await registry.putService(
                ServiceRecord(name: ServiceName(name: "a"), ports: [80], origin: .admin), ifMatch: nil, actor: "t")
            let b = try await registry.putService(
                ServiceRecord(name: ServiceName(name: "b"), ports: [80], origin: .admin), ifMatch: nil, actor: "t")
            #expect(a.value.vip != nil && a.value.vip != b.value.vip)
            #expect(RegistryConfiguration().vipRange.contains(a.value.vip!))
            // A body asking for another VIP keeps the allocated one.
            var changed = a.value
            changed.vip = b.value.vip
            changed.ports = [80, 443]
            let updated = try await registry.putService(changed, ifMatch: a.revision, actor: "t")
            #expect(updated.value.vip == a.value.vip)
            try await registry.deleteService(ServiceName(name: "a"), ifMatch: nil, actor: "t")
            #expect(try await store.objects(.vipClaim).map(\.key) == [b.value.vip!.description])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func refusedWritesChangeNothing(_ backend: StoreBackend) async throws {
        try await Self.withRegistry(backend) { registry, store in
            try await Self.addNode("host-a", to: store)
            let before = try await store.revision()
            await #expect(throws: RegistryError.self) {
                try await registry.putService(
                    ServiceRecord(name: ServiceName(name: "x"), ports: [], origin: .admin), ifMatch: nil, actor: "t")
            }
            await #expect(throws: RegistryError.self) {
                try await registry.putService(
                    ServiceRecord(name: ServiceName(name: "x"), ports: [], origin: .external), ifMatch: nil, actor: "t")
            }
            await #expect(throws: RegistryError.self) {
                try await registry.register(node: "ghost", addresses: [], version: "t", services: [])
            }
            await #expect(throws: RegistryError.self) {
                try await registry.putIntention(
                    Intention(
                        source: .any, destination: .any, action: .deny,
                        permissions: [L7Permission(action: .deny, pathExact: "no-slash")]),
                    ifMatch: nil, actor: "t"
                )
            }
            #expect(try await store.revision() == before)
        }
    }
}
