import Testing
import WeftCore

@testable import WeftControlPlane

/// What of a registration is accepted, case by case: addresses × placement × client limit.
@Suite("Registration claims")
struct RegistrationClaimsTests {
    static let own = IPAddress("198.18.0.2")!
    static let other = IPAddress("198.18.0.3")!
    static let api = ServiceName(name: "api")

    static func serving(_ name: ServiceName, at addresses: [IPAddress]) -> DiscoveredService {
        DiscoveredService(
            name: name, protocol: .http, endpoints: addresses.map { IPSocketAddress(address: $0, port: 8080) })
    }

    static func record(_ name: ServiceName, placement: [String]?, origin: ServiceRecord.Origin = .discovered)
        -> ServiceRecord
    {
        var record = ServiceRecord(name: name, ports: [8080], origin: origin)
        record.placement = placement
        return record
    }

    static func claims(
        _ services: [DiscoveredService], known: [ServiceRecord] = [], elsewhere: [ServiceName: Set<String>] = [:],
        clientLimit: Int = 8
    ) -> RegistrationClaims {
        RegistrationClaims(
            node: "a", fixedAddresses: [own], services: services,
            known: Dictionary(uniqueKeysWithValues: known.map { ($0.name, $0) }), registeredElsewhere: elsewhere,
            clientLimit: clientLimit)
    }

    @Test func aNewServiceAtTheNodesOwnAddressIsAccepted() {
        let result = Self.claims([Self.serving(Self.api, at: [Self.own])])
        #expect(result.accepted.map(\.name) == [Self.api])
        #expect(result.refused.isEmpty && result.placements.isEmpty)
    }

    @Test func endpointsAtAnotherAddressAreRefusedAndNeverMakeAClientWorkload() {
        let mixed = Self.claims([Self.serving(Self.api, at: [Self.own, Self.other])])
        #expect(mixed.accepted.first?.endpoints.map(\.address) == [Self.own])
        #expect(
            mixed.refused == [
                RefusedClaim(
                    service: Self.api, address: Self.other, reason: .addressNotFixed, message: mixed.refused[0].message)
            ])
        #expect(mixed.refused[0].message.contains("weftctl nodes set-addresses a"))

        let elsewhereOnly = Self.claims([Self.serving(Self.api, at: [Self.other])])
        #expect(elsewhereOnly.accepted.isEmpty, "a service with every endpoint refused gets no certificate")
        #expect(elsewhereOnly.refused.map(\.reason) == [.addressNotFixed])
    }

    @Test(
        arguments: [
            // placement, serving?, accepted?, reason
            (["b"], true, false, RefusedClaim.Reason.notPlaced),
            (["b"], false, false, .notPlaced),
            (["a", "b"], true, true, nil),
            (["a"], false, true, nil),
        ] as [([String], Bool, Bool, RefusedClaim.Reason?)])
    func placementDecides(placement: [String], serving: Bool, accepted: Bool, reason: RefusedClaim.Reason?) {
        let service =
            serving
            ? Self.serving(Self.api, at: [Self.own]) : DiscoveredService(name: Self.api, protocol: .tcp, endpoints: [])
        let result = Self.claims([service], known: [Self.record(Self.api, placement: placement)])
        #expect(result.accepted.isEmpty == !accepted)
        #expect(result.refused.first?.reason == reason)
        if reason == .notPlaced {
            #expect(result.refused[0].message.contains("weftctl service allow-node api a"))
        }
    }

    @Test func anUnplacedServiceIsClaimedKeepingTheNodesAlreadyServingIt() {
        let result = Self.claims(
            [Self.serving(Self.api, at: [Self.own])], known: [Self.record(Self.api, placement: nil, origin: .admin)],
            elsewhere: [Self.api: ["c", "b"]])
        #expect(result.accepted.map(\.name) == [Self.api])
        #expect(result.placements == [Self.api: ["a", "b", "c"]])

        // While another node's endpoints cannot be read, nothing unplaced is claimed: it may run there.
        let blind = RegistrationClaims(
            node: "a", fixedAddresses: [Self.own], services: [Self.serving(Self.api, at: [Self.own])],
            known: [Self.api: Self.record(Self.api, placement: nil, origin: .admin)], registeredElsewhere: [:],
            elsewhereComplete: false, clientLimit: 8)
        #expect(blind.accepted.isEmpty && blind.placements.isEmpty)
        #expect(blind.refused.map(\.reason) == [.notPlaced])
    }

    @Test func externalServicesCannotBeClaimed() {
        let result = Self.claims(
            [Self.serving(Self.api, at: [Self.own])], known: [Self.record(Self.api, placement: nil, origin: .external)])
        #expect(result.accepted.isEmpty)
        #expect(result.refused.map(\.reason) == [.externalService])
    }

    @Test func clientOnlyWorkloadsAreCappedServicesAreNot() {
        let clients = (0..<5).map {
            DiscoveredService(name: ServiceName(name: "c\($0)"), protocol: .tcp, endpoints: [])
        }
        let servers = (0..<5).map { Self.serving(ServiceName(name: "s\($0)"), at: [Self.own]) }
        let result = Self.claims(clients + servers, clientLimit: 3)
        #expect(result.accepted.filter(\.endpoints.isEmpty).map(\.name.name) == ["c0", "c1", "c2"])
        #expect(result.accepted.filter { !$0.endpoints.isEmpty }.count == 5)
        #expect(result.refused.map(\.service.name) == ["c3", "c4"])
        #expect(result.refused.allSatisfy { $0.reason == .clientLimit })
    }
}
