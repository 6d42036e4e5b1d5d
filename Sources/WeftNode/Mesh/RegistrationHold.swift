import WeftCore

/// Smooths what the node registers over discovery's bumps: a failed discovery keeps the last registration, and an
/// endpoint that vanished stays registered for `holdTime` before it is withdrawn, so a service restarting (its
/// listener gone for a moment) costs no mesh-wide push at all. New endpoints are registered at once.
struct RegistrationHold {
    let holdTime: Duration
    /// What was last handed out for registering.
    private(set) var published: NodeRegistration?
    private var vanishedAt: [EndpointKey: ContinuousClock.Instant] = [:]

    private struct EndpointKey: Hashable {
        var service: ServiceName
        var endpoint: IPSocketAddress
    }

    init(holdTime: Duration) {
        self.holdTime = holdTime
    }

    /// The registration to publish after discovery gave `discovered` at `now`; nil while there is nothing yet.
    mutating func next(_ discovered: Result<NodeRegistration, any Error>, now: ContinuousClock.Instant)
        -> NodeRegistration?
    {
        guard case .success(let found) = discovered else { return published }
        var next = published.map { holding($0, in: found, now: now) } ?? found
        // One order whatever discovery's: a listener coming back must not look like a change.
        next.services.sort { $0.name < $1.name }
        for index in next.services.indices {
            next.services[index].endpoints.sort { ($0.address, $0.port) < ($1.address, $1.port) }
        }
        published = next
        return next
    }

    /// `found`, with the endpoints of `published` that vanished less than `holdTime` ago added back.
    private mutating func holding(
        _ published: NodeRegistration, in found: NodeRegistration, now: ContinuousClock.Instant
    )
        -> NodeRegistration
    {
        var result = found
        var present = Set<EndpointKey>()
        for service in found.services {
            for endpoint in service.endpoints { present.insert(EndpointKey(service: service.name, endpoint: endpoint)) }
        }
        vanishedAt = vanishedAt.filter { !present.contains($0.key) }
        for service in published.services {
            let held = service.endpoints.filter { endpoint in
                let key = EndpointKey(service: service.name, endpoint: endpoint)
                guard !present.contains(key) else { return false }
                let since = vanishedAt[key] ?? now
                vanishedAt[key] = since
                return now - since < holdTime
            }
            guard !held.isEmpty else { continue }
            if let index = result.services.firstIndex(where: { $0.name == service.name }) {
                result.services[index].endpoints += held
            } else {
                var kept = service
                kept.endpoints = held
                result.services.append(kept)
            }
        }
        // Withdrawn for good: forget them.
        vanishedAt = vanishedAt.filter { now - $0.value < holdTime }
        return result
    }
}
