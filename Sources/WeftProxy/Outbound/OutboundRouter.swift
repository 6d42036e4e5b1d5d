import NIOConcurrencyHelpers
import WeftCore

/// Decides what happens to a connection a local process opened (the capture's :15001 path).
///
/// A VIP or a service endpoint's address → that service, judged against the intentions with the caller's service
/// as source (client-side authorization: a denied connection is reset at once). An endpoint on this node is
/// reached directly; one on another node through an HBONE tunnel to that node, presenting the caller's
/// certificate. A process that is no known workload has no certificate: its connections to mesh services on other
/// nodes follow the node's egress policy (unmeshed passthrough or refusal). A caller whose identity could not be
/// looked up is refused every mesh destination (it might be a workload: sending it unmeshed would put its traffic
/// on the wire in plaintext). Anything else is not a mesh destination and follows the egress policy.
public final class OutboundRouter: ConnectionRouter {
    private let roundRobin = NIOLockedValueBox<[String: Int]>([:])

    public init() {}

    public func decide(_ connection: CapturedConnection, config: ProxyConfig) -> ConnectionDecision {
        let state = config.state
        let destination = connection.originalDestination
        let source = connection.source.service.flatMap { config.localService(named: $0) }
        if case .unknown(let reason) = connection.source.identity {
            let service = state.service(atVIP: destination.address) ?? state.service(atEndpoint: destination)
            if service != nil || state.isVIP(destination.address) {
                return .refuse(
                    .forbidden(
                        "the caller's identity is unknown (\(reason)); a mesh service is never called without one"),
                    source: nil, destination: service?.serviceName)
            }
        }
        if let service = state.service(atVIP: destination.address) {
            guard service.ports.isEmpty || service.ports.contains(destination.port) else {
                return .refuse(
                    .notFound("\(service.name) does not serve port \(destination.port)"), source: source,
                    destination: service.serviceName)
            }
            return route(to: service, port: destination.port, pinned: nil, source: source, config: config)
        }
        if state.isVIP(destination.address) {
            return .refuse(.notFound("no service has VIP \(destination.address)"), source: source, destination: nil)
        }
        if let service = state.service(atEndpoint: destination) {
            return route(to: service, port: destination.port, pinned: destination, source: source, config: config)
        }
        switch state.config.egress {
        case .passthrough:
            return .forward(to: destination, source: source, destination: nil)
        case .refuse:
            return .refuse(
                .forbidden("\(destination) is not a mesh service and egress is refused on this node"), source: source,
                destination: nil)
        }
    }

    private func route(
        to service: MeshService, port: UInt16, pinned: IPSocketAddress?, source: ServiceName?, config: ProxyConfig
    )
        -> ConnectionDecision
    {
        let destination = service.serviceName
        let decision = config.policy.evaluate(source: source, destination: destination)
        guard decision.allowed else {
            return .refuse(.forbidden("denied: \(decision.reason)"), source: source, destination: destination)
        }
        var healthy = service.endpoints.filter { $0.healthy && (pinned == nil || $0.socketAddress == pinned) }
        // A multi-port service lists an endpoint per port; a single-port one may listen elsewhere than the VIP port.
        if service.ports.count > 1 {
            healthy = healthy.filter { $0.port == port }
        }
        guard !healthy.isEmpty else {
            return .refuse(
                .unavailable("\(service.name) has no healthy endpoint"), source: source, destination: destination)
        }
        let index = roundRobin.withLockedValue { counters in
            defer { counters[service.qualifiedName, default: 0] &+= 1 }
            return counters[service.qualifiedName, default: 0]
        }
        let endpoint = healthy[index % healthy.count]
        if endpoint.node == config.nodeName {
            return .forward(to: endpoint.socketAddress, source: source, destination: destination)
        }
        guard let source else {
            switch config.state.config.egress {
            case .passthrough:
                return .forward(to: endpoint.socketAddress, source: nil, destination: destination)
            case .refuse:
                return .refuse(
                    .forbidden(
                        "the caller is no known workload (no certificate to present) and egress is refused on this node"
                    ), source: nil, destination: destination)
            }
        }
        let peer = HBONEPeer(
            node: endpoint.node, address: IPSocketAddress(address: endpoint.address, port: config.hbonePort),
            source: source)
        return .tunnel(
            HBONETunnel(peer: peer, authority: endpoint.socketAddress, destination: destination), source: source)
    }
}
