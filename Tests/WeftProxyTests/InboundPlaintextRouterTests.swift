import Testing
import WeftCore

@testable import WeftProxy

@Suite struct InboundPlaintextRouterTests {
    let router = InboundPlaintextRouter(ports: [
        8080: .init(mode: .strict, service: ServiceName(name: "backend")),
        9090: .init(mode: .permissive, service: ServiceName(name: "legacy")),
    ])
    let allowAll = ProxyConfig(state: NodeState(config: NodeConfig(version: 1, node: "host-b")))

    func connection(toPort port: UInt16) -> CapturedConnection {
        CapturedConnection(
            client: IPSocketAddress("198.18.1.9:40000")!,
            originalDestination: IPSocketAddress(address: IPAddress("198.18.1.2")!, port: port),
            source: ConnectionSource()
        )
    }

    @Test func strictPortIsRefused() {
        guard case .refuse(let refusal, _, let destination) = router.decide(connection(toPort: 8080), config: allowAll)
        else {
            Issue.record("expected a refusal")
            return
        }
        #expect(refusal.reason.contains("STRICT") && refusal.reason.contains("backend"))
        #expect(destination == ServiceName(name: "backend"))
    }

    @Test func permissivePortIsForwardedToTheWorkloadUnauthenticated() {
        #expect(
            router.decide(connection(toPort: 9090), config: allowAll)
                == .forward(
                    to: IPSocketAddress("198.18.1.2:9090")!, source: nil, destination: ServiceName(name: "legacy")))
    }

    @Test func permissivePortFollowsThePolicyForCallersWithoutIdentity() {
        var config = allowAll
        config.policy = AuthorizationPolicy(defaultAction: .deny)
        guard case .refuse(let refusal, _, _) = router.decide(connection(toPort: 9090), config: config) else {
            Issue.record("expected a refusal")
            return
        }
        #expect(refusal.reason.contains("mesh default is deny"))
    }

    @Test func undeclaredPortIsRefused() {
        guard case .refuse = router.decide(connection(toPort: 7000), config: allowAll) else {
            Issue.record("expected a refusal")
            return
        }
    }
}
