import Foundation
import Testing
import WeftCore
import WeftIdentity

@testable import WeftControlPlane

/// A node speaks only for the addresses fixed at its join and for the services placed on it; what it claims
/// beyond that is refused, kept for admins to see, and never earns a certificate.
@Suite("Registry placement", .serialized)
struct RegistryPlacementTests {
    static let own = IPAddress("198.18.0.2")!
    static let ownV6 = IPAddress("2001:2::2")!
    static let other = IPAddress("198.18.0.3")!
    static let api = ServiceName(name: "api")

    static func join(
        _ registry: Registry, _ node: String, tokenAddresses: [IPAddress]? = nil, declared: [IPAddress],
        peer: IPAddress?
    ) async throws(RegistryError) -> IssuedCertificate {
        let token = try await registry.createJoinToken(
            nodeName: node, ttl: .seconds(60), addresses: tokenAddresses, actor: "test")
        let csr = try! CertificateRequestFactory.make(
            for: SPIFFEID.node(trustDomain: registry.configuration.trustDomain, name: node))
        return try await registry.join(
            tokenText: token.token.text, nodeName: node, csrPEM: csr.csrPEM, declaredAddresses: declared, peer: peer)
    }

    static func serving(_ address: IPAddress) -> [DiscoveredService] {
        [DiscoveredService(name: api, protocol: .http, endpoints: [IPSocketAddress(address: address, port: 8080)])]
    }

    static func canSign(_ registry: Registry, node: String) async -> Bool {
        let identity = SPIFFEID.workload(trustDomain: registry.configuration.trustDomain, service: api.name)
        let csr = try! CertificateRequestFactory.make(for: identity)
        return (try? await registry.signCertificate(node: node, identity: identity, csrPEM: csr.csrPEM, ttl: nil))
            != nil
    }

    @Test(arguments: StoreBackend.allCases)
    func addressesAreFixedAtJoinAndCheckedAgainstThePeer(_ backend: StoreBackend) async throws {
        try await RegistryTests.withRegistry(backend) { registry, _ in
            _ = try await Self.join(registry, "a", declared: [Self.own, Self.ownV6], peer: Self.own)
            #expect(try await registry.node("a")?.value.addresses == [Self.own, Self.ownV6])

            // A node claiming addresses that do not include the one it joins from is refused, the token unspent.
            await #expect(throws: RegistryError.self) {
                _ = try await Self.join(registry, "b", declared: [Self.other], peer: Self.own)
            }
            #expect(try await registry.node("b") == nil)
            #expect(
                try await registry.joinTokens().filter { $0.value.nodeName == "b" }.allSatisfy {
                    $0.value.usedAt == nil
                })

            // A token naming addresses fixes them, whatever the node declares; the join must come from one.
            do {
                _ = try await Self.join(
                    registry, "c", tokenAddresses: [Self.other], declared: [Self.own, Self.other], peer: Self.own)
                Issue.record("a join from an address the token does not name was accepted")
            } catch {
                #expect("\(error)".contains("--address 198.18.0.2"), "\(error)")
            }
            _ = try await Self.join(
                registry, "c", tokenAddresses: [Self.other], declared: [Self.own, Self.other], peer: Self.other)
            #expect(try await registry.node("c")?.value.addresses == [Self.other])

            // Registering endpoints elsewhere is a refused claim, not an endpoint.
            try await registry.register(
                node: "c", addresses: [Self.own], version: "t", services: Self.serving(Self.own))
            let view = try #require(try await registry.nodes().first { $0.node.name == "c" })
            #expect(view.endpoints.isEmpty)
            #expect(view.node.addresses == [Self.other], "a registration does not move fixed addresses")
            #expect(view.node.refusedClaims?.map(\.reason) == [.addressNotFixed])
            #expect(await Self.canSign(registry, node: "c") == false)

            try await registry.setNodeAddresses("c", addresses: [Self.own], ifMatch: nil, actor: "test")
            try await registry.register(
                node: "c", addresses: [Self.own], version: "t", services: Self.serving(Self.own))
            #expect(try await registry.nodes().first { $0.node.name == "c" }?.endpoints.count == 1)
            await #expect(throws: RegistryError.self) {
                try await registry.setNodeAddresses("c", addresses: [IPAddress("127.0.0.1")!], ifMatch: nil, actor: "t")
            }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func theFirstNodeOwnsAServiceOthersNeedAnAdminsAllowNode(_ backend: StoreBackend) async throws {
        try await RegistryTests.withRegistry(backend) { registry, _ in
            _ = try await Self.join(registry, "a", declared: [Self.own], peer: Self.own)
            _ = try await Self.join(registry, "b", declared: [Self.other], peer: Self.other)
            try await registry.register(
                node: "a", addresses: [Self.own], version: "t", services: Self.serving(Self.own))
            #expect(try await registry.service(Self.api)?.value.placement == ["a"])

            // b serving (or calling as) api takes none of its traffic and gets no certificate.
            try await registry.register(
                node: "b", addresses: [Self.other], version: "t", services: Self.serving(Self.other))
            var b = try #require(try await registry.nodes().first { $0.node.name == "b" })
            #expect(b.endpoints.isEmpty && b.node.clientWorkloads == nil)
            #expect(b.node.refusedClaims?.map(\.reason) == [.notPlaced])
            #expect(await Self.canSign(registry, node: "b") == false)
            try await registry.register(
                node: "b", addresses: [Self.other], version: "t",
                services: [DiscoveredService(name: Self.api, protocol: .tcp, endpoints: [])])
            #expect(await Self.canSign(registry, node: "b") == false, "nor as a client")

            try await registry.allowNode("b", for: Self.api, actor: "test")
            try await registry.register(
                node: "b", addresses: [Self.other], version: "t", services: Self.serving(Self.other))
            b = try #require(try await registry.nodes().first { $0.node.name == "b" })
            #expect(b.endpoints.count == 1 && b.node.refusedClaims == nil)
            #expect(await Self.canSign(registry, node: "b"))

            // Disallowing withdraws b's endpoints at once, before b registers again.
            try await registry.disallowNode("b", for: Self.api, actor: "test")
            #expect(try await registry.nodes().first { $0.node.name == "b" }?.endpoints.isEmpty == true)
            #expect(await Self.canSign(registry, node: "b") == false)
            #expect(try await registry.service(Self.api)?.value.placement == ["a"])
            await #expect(throws: RegistryError.self) {
                try await registry.allowNode("ghost", for: Self.api, actor: "t")
            }
        }
    }
}
