import WeftCapture
import WeftCore

/// The control plane running on this host (weftd next to weft-node): its listeners are never a mesh service, so
/// nodes elsewhere reach its node API, join and admin ports directly. Told apart by the ports the node reaches it
/// at; every listener of the unit that owns one of them is left out (the admin port among them).
struct ControlPlaneListeners: Sendable {
    /// The control plane's node API and join listener, as this node's settings name them.
    var addresses: [IPSocketAddress]

    /// `services` without the control plane's, when it runs here (`local`: this host's addresses).
    func excluding(from services: [DiscoveredService], local: [IPAddress]) -> [DiscoveredService] {
        let here = addresses.filter { $0.address.isLoopback || local.contains($0.address) }
        guard !here.isEmpty else { return services }
        return services.filter { service in
            !here.contains { address in
                service.ports.contains(address.port)
                    && service.addresses.contains { $0 == address.address || $0 == .v4(0) || $0 == .v6(0, 0) }
            }
        }
    }
}
