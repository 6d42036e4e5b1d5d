import Testing
import WeftCore

@testable import WeftNode

/// A service restarting or a discovery that fails costs no withdrawal; a listener gone for good is withdrawn
/// after the hold.
struct RegistrationHoldTests {
    struct DiscoveryFailed: Error {}

    static let api = ServiceName(name: "api")
    static let web = ServiceName(name: "web")
    static let address = IPAddress("198.18.0.2")!

    static func registration(_ services: [ServiceName: [UInt16]]) -> NodeRegistration {
        NodeRegistration(
            addresses: [address],
            services: services.sorted { $0.key < $1.key }.map { name, ports in
                NodeRegistration.Service(
                    name: name, protocol: .http,
                    endpoints: ports.map { IPSocketAddress(address: address, port: $0) })
            })
    }

    @Test func aListenerGoneForAMomentStaysRegisteredOneGoneForLongerIsWithdrawn() {
        var hold = RegistrationHold(holdTime: .seconds(3))
        let start = ContinuousClock.now
        let both = Self.registration([Self.api: [8080], Self.web: [80]])
        #expect(hold.next(.success(both), now: start) == both)

        // web restarts: gone for two seconds, back in the third — the registration never changes.
        let withoutWeb = Self.registration([Self.api: [8080]])
        #expect(hold.next(.success(withoutWeb), now: start + .seconds(1)) == both)
        #expect(hold.next(.success(withoutWeb), now: start + .seconds(2)) == both)
        #expect(hold.next(.success(both), now: start + .seconds(3)) == both)

        // web gone for good: held for three seconds, then withdrawn.
        #expect(hold.next(.success(withoutWeb), now: start + .seconds(4)) == both)
        #expect(hold.next(.success(withoutWeb), now: start + .seconds(6.5)) == both)
        #expect(hold.next(.success(withoutWeb), now: start + .seconds(7)) == withoutWeb)
        #expect(hold.next(.success(withoutWeb), now: start + .seconds(8)) == withoutWeb)
    }

    @Test func oneEndpointOfAServiceIsHeldWhileItsOthersStay() {
        var hold = RegistrationHold(holdTime: .seconds(3))
        let start = ContinuousClock.now
        let two = Self.registration([Self.api: [8080, 8081]])
        _ = hold.next(.success(two), now: start)
        let one = Self.registration([Self.api: [8080]])
        #expect(hold.next(.success(one), now: start + .seconds(1)) == two)
        #expect(hold.next(.success(one), now: start + .seconds(5)) == one)
    }

    @Test func aFailedDiscoveryKeepsTheLastRegistration() {
        var hold = RegistrationHold(holdTime: .seconds(3))
        let start = ContinuousClock.now
        #expect(hold.next(.failure(DiscoveryFailed()), now: start) == nil, "nothing to keep yet")
        let both = Self.registration([Self.api: [8080], Self.web: [80]])
        _ = hold.next(.success(both), now: start)
        for second in 1...30 {
            #expect(hold.next(.failure(DiscoveryFailed()), now: start + .seconds(second)) == both)
        }
        // New endpoints appear at once.
        let more = Self.registration([Self.api: [8080, 9090], Self.web: [80]])
        #expect(hold.next(.success(more), now: start + .seconds(31)) == more)
    }
}
