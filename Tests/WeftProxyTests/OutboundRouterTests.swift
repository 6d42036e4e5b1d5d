import Testing
import WeftCore

@testable import WeftProxy

/// Node "a" runs frontend and cache; backend runs on node "b".
@Suite struct OutboundRouterTests {
    static let backendEndpoint = IPSocketAddress("198.18.0.12:8080")!
    static let cacheEndpoint = IPSocketAddress("198.18.0.11:6379")!
    static let backendVIP = IPSocketAddress("240.0.0.7:80")!
    static let cache = ServiceName(name: "cache")

    static func config(
        policy: AuthorizationPolicy = AuthorizationPolicy(), egress: EgressPolicy = .passthrough,
        backendHealthy: Bool = true,
        hbonePort: UInt16 = 15008
    ) -> ProxyConfig {
        let services = [
            MeshService(
                name: "backend", ports: [80], vip: IPAddress("240.0.0.7"),
                endpoints: [
                    ServiceEndpoint(
                        address: backendEndpoint.address, port: backendEndpoint.port, node: "b", healthy: backendHealthy
                    )
                ]),
            MeshService(
                name: "cache", ports: [6379], vip: IPAddress("240.0.0.8"),
                endpoints: [ServiceEndpoint(address: cacheEndpoint.address, port: cacheEndpoint.port, node: "a")]),
            MeshService(
                name: "frontend", ports: [80], vip: IPAddress("240.0.0.6"),
                endpoints: [ServiceEndpoint(address: IPAddress("198.18.0.11")!, port: 3000, node: "a")]),
        ]
        let node = NodeConfig(version: 1, node: "a", egress: egress, services: services)
        return ProxyConfig(state: NodeState(config: node), policy: policy, hbonePort: hbonePort)
    }

    static func connection(to destination: IPSocketAddress, from service: String? = "frontend") -> CapturedConnection {
        CapturedConnection(
            client: IPSocketAddress("198.18.0.11:40000")!, originalDestination: destination,
            source: ConnectionSource(
                identity: service.map { .service($0) } ?? .noWorkload(reason: "in no trusted slice"),
                cgroupPath: service.map { "system.slice/\($0).service" } ?? "user.slice/session-1.scope"))
    }

    private func decide(
        _ destination: IPSocketAddress, from service: String? = "frontend", _ config: ProxyConfig = config()
    ) -> ConnectionDecision {
        OutboundRouter().decide(Self.connection(to: destination, from: service), config: config)
    }

    private func refusal(_ decision: ConnectionDecision) -> String? {
        if case .refuse(let refusal, _, _) = decision { return refusal.reason }
        return nil
    }

    @Test(arguments: [UInt16(15008), 15999])
    func aRemoteServiceVIPIsTunnelledToTheEndpointsNode(hbonePort: UInt16) {
        let tunnel = HBONETunnel(
            peer: HBONEPeer(
                node: "b", address: IPSocketAddress(address: Self.backendEndpoint.address, port: hbonePort),
                source: Mesh.frontend),
            authority: Self.backendEndpoint, destination: Mesh.backend)
        #expect(decide(Self.backendVIP, Self.config(hbonePort: hbonePort)) == .tunnel(tunnel, source: Mesh.frontend))
    }

    @Test func aRemoteEndpointDialledDirectlyIsTunnelledToIt() {
        guard case .tunnel(let tunnel, let source) = decide(Self.backendEndpoint) else {
            Issue.record("expected a tunnel")
            return
        }
        #expect(tunnel.authority == Self.backendEndpoint && tunnel.peer.node == "b" && source == Mesh.frontend)
        #expect(tunnel.peer.address == IPSocketAddress("198.18.0.12:15008")!)
    }

    @Test func aLocalEndpointIsForwardedDirectly() {
        #expect(
            decide(IPSocketAddress("240.0.0.8:6379")!)
                == .forward(to: Self.cacheEndpoint, source: Mesh.frontend, destination: Self.cache))
    }

    @Test func aDenyIntentionRefusesNamingIt() {
        let decision = decide(Self.backendVIP, Self.config(policy: Mesh.denyFrontendToBackend))
        #expect(refusal(decision)?.contains("frontend>backend") == true)
        #expect(
            decision
                == .refuse(.forbidden(refusal(decision) ?? ""), source: Mesh.frontend, destination: Mesh.backend))
    }

    @Test func stopAllRefusesEvenLocalDestinations() {
        for destination in [Self.backendVIP, IPSocketAddress("240.0.0.8:6379")!] {
            #expect(
                refusal(decide(destination, Self.config(policy: Mesh.stopAll)))?.contains("all traffic is stopped")
                    == true)
        }
    }

    /// A failed lookup (sock_diag found no socket for the 4-tuple, e.g. after a source-port rewrite) is never
    /// taken for "no workload": the call might be frontend's, and passthrough would carry it in plaintext.
    @Test(arguments: [EgressPolicy.passthrough, .refuse])
    func aCallerWhoseLookupFailedIsRefusedEveryMeshDestination(egress: EgressPolicy) {
        let unknown = ConnectionSource(identity: .unknown(reason: "no local socket"))
        let cases = [
            (Self.backendVIP, Mesh.backend), (Self.backendEndpoint, Mesh.backend),
            (IPSocketAddress("240.0.0.8:6379")!, Self.cache),
        ]
        for (destination, service) in cases {
            let connection = CapturedConnection(
                client: IPSocketAddress("198.18.0.11:40000")!, originalDestination: destination, source: unknown)
            let decision = OutboundRouter().decide(connection, config: Self.config(egress: egress))
            #expect(refusal(decision)?.contains("identity is unknown (no local socket)") == true, "\(destination)")
            guard case .refuse(let refused, nil, service) = decision else {
                Issue.record("\(destination): \(decision)")
                continue
            }
            #expect(refused.status == .forbidden)
        }
        let outside = CapturedConnection(
            client: IPSocketAddress("198.18.0.11:40000")!, originalDestination: IPSocketAddress("198.51.100.7:443")!,
            source: unknown)
        let decision = OutboundRouter().decide(outside, config: Self.config(egress: egress))
        #expect(
            (decision == .forward(to: IPSocketAddress("198.51.100.7:443")!, source: nil, destination: nil))
                == (egress == .passthrough), "a destination outside the mesh needs no identity: egress policy")
    }

    @Test func anUnknownCallerToARemoteServiceFollowsTheEgressPolicy() {
        #expect(
            decide(Self.backendVIP, from: nil)
                == .forward(to: Self.backendEndpoint, source: nil, destination: Mesh.backend),
            "passthrough: unmeshed, straight to the endpoint")
        let refused = decide(Self.backendVIP, from: nil, Self.config(egress: .refuse))
        #expect(refusal(refused)?.contains("no known workload") == true)
    }

    @Test func noHealthyEndpointIsRefused() {
        #expect(
            refusal(decide(Self.backendVIP, Self.config(backendHealthy: false)))?.contains("no healthy endpoint")
                == true)
    }

    @Test func aPortTheServiceDoesNotServeIsRefused() {
        let decision = decide(IPSocketAddress("240.0.0.7:81")!)
        #expect(refusal(decision)?.contains("does not serve port 81") == true)
    }

    @Test func anUnassignedVIPIsRefused() {
        #expect(refusal(decide(IPSocketAddress("240.0.0.99:80")!))?.contains("no service has VIP") == true)
    }

    @Test func aNonMeshDestinationFollowsTheEgressPolicy() {
        let outside = IPSocketAddress("198.51.100.1:443")!
        #expect(decide(outside) == .forward(to: outside, source: Mesh.frontend, destination: nil))
        #expect(refusal(decide(outside, Self.config(egress: .refuse)))?.contains("egress is refused") == true)
    }

    @Test func endpointsAreTakenInTurn() {
        var config = Self.config()
        var services = config.state.config.services
        services[0].endpoints.append(ServiceEndpoint(address: IPAddress("198.18.0.13")!, port: 8080, node: "c"))
        config.state = NodeState(config: NodeConfig(version: 2, node: "a", services: services))
        let router = OutboundRouter()
        let nodes = (0..<4).map { _ -> String? in
            guard case .tunnel(let tunnel, _) = router.decide(Self.connection(to: Self.backendVIP), config: config)
            else { return nil }
            return tunnel.peer.node
        }
        #expect(nodes == ["b", "c", "b", "c"])
    }
}
