import Testing
import WeftCapture
import WeftCore

@testable import WeftNode

/// On the host that runs weftd, weftd's listeners are never registered as a mesh service (its node API, join and
/// admin ports would be captured as STRICT and no other node could join).
struct ControlPlaneListenersTests {
    static let host = IPAddress("198.18.0.1")!

    static func service(_ name: String, ports: [UInt16], at address: IPAddress = .v4(0)) -> DiscoveredService {
        DiscoveredService(name: name, ports: ports, uid: 0, addresses: [address])
    }

    static let found = [
        service("weftd", ports: [15012, 15013, 15443]), service("backend", ports: [8080]),
    ]

    @Test func theControlPlanesUnitIsLeftOutWhenItRunsHere() {
        let listeners = ControlPlaneListeners(addresses: [
            IPSocketAddress(address: Self.host, port: 15012), IPSocketAddress(address: Self.host, port: 15013),
        ])
        #expect(listeners.excluding(from: Self.found, local: [Self.host]).map(\.name) == ["backend"])
        // Reached over loopback, or a listener on one address only: the same.
        let loopback = ControlPlaneListeners(addresses: [IPSocketAddress("127.0.0.1:15012")!])
        #expect(loopback.excluding(from: Self.found, local: [Self.host]).map(\.name) == ["backend"])
        let bound = [Self.service("weftd", ports: [15012], at: Self.host)]
        #expect(listeners.excluding(from: bound, local: [Self.host]).isEmpty)
    }

    @Test func elsewhereNothingIsLeftOut() {
        let remote = ControlPlaneListeners(addresses: [IPSocketAddress("198.18.0.9:15012")!])
        #expect(remote.excluding(from: Self.found, local: [Self.host]).map(\.name) == ["weftd", "backend"])
        #expect(ControlPlaneListeners(addresses: []).excluding(from: Self.found, local: [Self.host]).count == 2)
    }
}
