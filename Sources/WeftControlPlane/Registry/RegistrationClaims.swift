import WeftCore

/// What of a node's registration the control plane accepts: endpoints only at the node's fixed addresses, services
/// only where they are placed (the first node to register a service owns it; others need an admin's allow-node),
/// and a bounded number of client-only workloads. Pure, so that `Registry.register` only applies it.
struct RegistrationClaims: Equatable {
    /// The services accepted, with only their accepted endpoints.
    var accepted: [DiscoveredService] = []
    var refused: [RefusedClaim] = []
    /// Services already in the registry whose placement this registration sets (first claim of an unplaced one).
    var placements: [ServiceName: [String]] = [:]

    /// - Parameters:
    ///   - registeredElsewhere: for each service, the other nodes with endpoints of it now (kept when a service
    ///     registered by an earlier version, without placement, is first claimed).
    ///   - elsewhereComplete: false when another node's endpoints could not be read; then no unplaced service is
    ///     claimed (it may run there).
    init(
        node: String, fixedAddresses: [IPAddress], services: [DiscoveredService], known: [ServiceName: ServiceRecord],
        registeredElsewhere: [ServiceName: Set<String>], elsewhereComplete: Bool = true, clientLimit: Int
    ) {
        var clients = 0
        for service in services.sorted(by: { $0.name < $1.name }) {
            var kept = service
            kept.endpoints = []
            kept.healthy = []
            for (endpoint, healthy) in zip(service.endpoints, service.healthy) {
                if fixedAddresses.contains(endpoint.address) {
                    kept.endpoints.append(endpoint)
                    kept.healthy.append(healthy)
                } else if !refused.contains(where: { $0.service == service.name && $0.address == endpoint.address }) {
                    refused.append(
                        RefusedClaim(
                            service: service.name, address: endpoint.address, reason: .addressNotFixed,
                            message:
                                "\(endpoint.address) is not one of node \(node)'s addresses (\(fixedAddresses.map(\.description).joined(separator: ", "))); an admin can change them with `weftctl nodes set-addresses \(node) ADDRESS...`"
                        ))
                }
            }
            // Every endpoint was refused: the service is not on this node, and must not become a client workload.
            guard service.endpoints.isEmpty || !kept.endpoints.isEmpty else { continue }
            if let record = known[service.name] {
                if record.origin == .external {
                    refused.append(
                        RefusedClaim(
                            service: service.name, reason: .externalService,
                            message: "\(service.name) is an external service: it has no endpoints on nodes"))
                    continue
                }
                if let placement = record.placement {
                    guard placement.contains(node) else {
                        refused.append(
                            RefusedClaim(
                                service: service.name, reason: .notPlaced,
                                message:
                                    "\(service.name) is placed on \(placement.sorted().joined(separator: ", ")): an admin may add this node with `weftctl service allow-node \(service.name) \(node)`"
                            ))
                        continue
                    }
                } else if elsewhereComplete {
                    placements[service.name] = (registeredElsewhere[service.name, default: []].union([node])).sorted()
                } else {
                    refused.append(
                        RefusedClaim(
                            service: service.name, reason: .notPlaced,
                            message:
                                "\(service.name) is not placed yet and another node's registration cannot be read, so it may run there: an admin may place it with `weftctl service allow-node \(service.name) \(node)`"
                        ))
                    continue
                }
            }
            if kept.endpoints.isEmpty {
                guard clients < clientLimit else {
                    refused.append(
                        RefusedClaim(
                            service: service.name, reason: .clientLimit,
                            message:
                                "node \(node) already runs \(clientLimit) client-only workloads, the most a node may have"
                        ))
                    continue
                }
                clients += 1
            }
            accepted.append(kept)
        }
    }
}
