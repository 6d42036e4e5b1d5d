import NIOConcurrencyHelpers
import WeftCore

/// Decides what happens to a connection a local process opened (the capture's :15001 path).
///
/// A VIP or a service endpoint's address → that service: an endpoint on this node is reached directly (no
/// tunnel); endpoints on other nodes need the HBONE tunnel. Anything else is not a mesh destination and follows
/// the node's egress policy.
public final class OutboundRouter: ConnectionRouter {
    private let state: NodeState
    private let roundRobin = NIOLockedValueBox<[String: Int]>([:])

    public init(state: NodeState) {
        self.state = state
    }

    public func decide(_ connection: CapturedConnection) -> ConnectionDecision {
        let destination = connection.originalDestination
        if let service = state.service(atVIP: destination.address) {
            guard service.ports.isEmpty || service.ports.contains(destination.port) else {
                return .refuse(reason: "\(service.name) does not serve port \(destination.port)")
            }
            return route(to: service, port: destination.port, pinned: nil)
        }
        if state.isVIP(destination.address) {
            return .refuse(reason: "no service has VIP \(destination.address)")
        }
        if let service = state.service(atEndpoint: destination) {
            return route(to: service, port: destination.port, pinned: destination)
        }
        switch state.config.egress {
        case .passthrough:
            return .forward(to: destination, destinationService: nil)
        case .refuse:
            return .refuse(reason: "\(destination) is not a mesh service and egress is refused on this node")
        }
    }

    private func route(to service: MeshService, port: UInt16, pinned: IPSocketAddress?) -> ConnectionDecision {
        var healthy = service.endpoints.filter { $0.healthy && (pinned == nil || $0.socketAddress == pinned) }
        // A multi-port service lists an endpoint per port; a single-port one may listen elsewhere than the VIP port.
        if service.ports.count > 1 {
            healthy = healthy.filter { $0.port == port }
        }
        guard !healthy.isEmpty else {
            return .refuse(reason: "\(service.name) has no healthy endpoint")
        }
        let index = roundRobin.withLockedValue { counters in
            defer { counters[service.qualifiedName, default: 0] &+= 1 }
            return counters[service.qualifiedName, default: 0]
        }
        let endpoint = healthy[index % healthy.count]
        guard endpoint.node == state.nodeName else {
            return .refuse(reason: "\(service.name) runs on node \(endpoint.node): the cross-node tunnel is not available yet")
        }
        return .forward(to: endpoint.socketAddress, destinationService: service.name)
    }
}
