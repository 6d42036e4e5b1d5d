import Testing
import WeftCore
@testable import WeftProxy

@Suite struct InboundPlaintextRouterTests {
    let router = InboundPlaintextRouter(ports: [8080: (.strict, "backend"), 9090: (.permissive, "legacy")])

    func connection(toPort port: UInt16) -> CapturedConnection {
        CapturedConnection(
            client: IPSocketAddress("198.18.1.9:40000")!,
            originalDestination: IPSocketAddress(address: IPAddress("198.18.1.2")!, port: port),
            source: ConnectionSource()
        )
    }

    @Test func strictPortIsRefused() {
        guard case .refuse(let reason) = router.decide(connection(toPort: 8080)) else {
            Issue.record("expected a refusal")
            return
        }
        #expect(reason.contains("STRICT") && reason.contains("backend"))
    }

    @Test func permissivePortIsForwardedToTheWorkload() {
        #expect(router.decide(connection(toPort: 9090))
            == .forward(to: IPSocketAddress("198.18.1.2:9090")!, destinationService: "legacy"))
    }

    @Test func undeclaredPortIsRefused() {
        guard case .refuse = router.decide(connection(toPort: 7000)) else {
            Issue.record("expected a refusal")
            return
        }
    }
}
