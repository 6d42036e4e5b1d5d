import WeftCore

/// Where the node's metrics push may connect. The push leaves with the capture's mark (its own rules never
/// capture it), so it is held to the node's egress policy here: with `passthrough` anywhere; with `refuse` only
/// addresses never captured (`excluded_cidrs`) and mesh endpoints. A VIP is never a push destination (it only
/// means something through the capture).
struct PushDestinationPolicy: Sendable {
    var excluded: [IPCIDR]

    /// Nil when the push may connect to `destination`, else why not.
    func refusal(for destination: IPSocketAddress, state: NodeState) -> String? {
        if state.isVIP(destination.address) {
            return "\(destination.address) is a mesh VIP: push to an address outside the mesh or to an endpoint"
        }
        switch state.config.egress {
        case .passthrough:
            return nil
        case .refuse:
            if excluded.contains(where: { $0.contains(destination.address) }) { return nil }
            if state.service(atEndpoint: destination) != nil { return nil }
            return
                "\(destination) is outside the mesh and this node's egress policy refuses it (add it to excluded_cidrs to allow the push)"
        }
    }
}
