import WeftCapture
import WeftCore

/// What this node registers: discovered listeners (named by their unit or services.d) at this node's addresses,
/// and client workloads (no endpoints). Listeners on loopback only are not reachable from other nodes: they count
/// as workloads without endpoints.
struct LocalRegistration: Sendable {
    let settings: NodeSettings
    let discovery: LocalServiceDiscovery?
    let overrides: [ServiceOverride]

    /// Throws when discovery fails (the caller keeps what it registered before).
    func current(clients: Set<ServiceName>) throws -> NodeRegistration {
        let addresses = settings.registeredAddresses()
        let found = ControlPlaneListeners(addresses: settings.controlPlaneListeners).excluding(
            from: try discovery?.discover(overrides: overrides).services ?? [], local: addresses)
        var services = found.map { service in
            var endpointAddresses: [IPAddress] = []
            for listening in service.addresses {
                if listening == .v4(0) {
                    endpointAddresses += addresses.filter(\.isIPv4)
                } else if listening == .v6(0, 0) {
                    endpointAddresses += addresses
                } else if addresses.contains(listening) {
                    endpointAddresses.append(listening)
                }
            }
            var seen = Set<IPAddress>()
            let endpoints = endpointAddresses.filter { seen.insert($0).inserted }.flatMap { address in
                service.ports.map { IPSocketAddress(address: address, port: $0) }
            }
            return NodeRegistration.Service(
                name: ServiceName(namespace: service.namespace, name: service.name), protocol: service.protocol,
                labels: service.labels, endpoints: endpoints)
        }
        let listed = Set(services.map(\.name))
        for client in clients.subtracting(listed).sorted() {
            services.append(NodeRegistration.Service(name: client))
        }
        return NodeRegistration(addresses: addresses, services: services)
    }
}
