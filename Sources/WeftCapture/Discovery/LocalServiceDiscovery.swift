import WeftCore

/// A service found running on this host.
public struct DiscoveredService: Sendable, Equatable {
    public var name: String
    public var namespace: String
    public var ports: [UInt16]
    public var `protocol`: ServiceProtocol
    public var labels: [String: String]
    public var uid: UInt32?
    public var cgroupPath: String?
    /// The addresses it listens on (wildcards included as 0.0.0.0 / ::).
    public var addresses: [IPAddress]
}

/// Finds local services: listening TCP sockets grouped by the systemd unit (cgroup) that owns them, named after it
/// and described further by services.d overrides.
public struct LocalServiceDiscovery: Sendable {
    private let diagnostics: SocketDiagnostics
    private let cgroups: CgroupResolver
    /// Ports never reported as services (the node's own listeners).
    public var excludedPorts: Set<UInt16>

    public init(
        diagnostics: SocketDiagnostics, cgroups: CgroupResolver,
        excludedPorts: Set<UInt16> = Set(WeftPort.node.map(\.rawValue))
    ) {
        self.diagnostics = diagnostics
        self.cgroups = cgroups
        self.excludedPorts = excludedPorts
    }

    /// The services running now. `skipped` says which listeners were left out and why.
    public func discover(overrides: [ServiceOverride] = []) throws -> (services: [DiscoveredService], skipped: [String])
    {
        var byName: [String: DiscoveredService] = [:]
        var skipped: [String] = []
        for socket in try diagnostics.listeningTCPSockets() where !excludedPorts.contains(socket.address.port) {
            let path = cgroups.path(forID: socket.owner.cgroupID) ?? ""
            let override = overrides.first { $0.matches(cgroupPath: path, uid: socket.owner.uid) }
            let name: String
            if let override {
                if let ports = override.ports, !ports.contains(socket.address.port) { continue }
                name = override.name
            } else if let unitName = CgroupResolver.serviceName(forCgroupPath: path) {
                guard DNSLabel.isValid(unitName) else {
                    skipped.append(
                        "\(socket.address): unit name '\(unitName)' is not a DNS label; name it in services.d")
                    continue
                }
                name = unitName
            } else {
                skipped.append("\(socket.address): cgroup '\(path)' is no service unit")
                continue
            }
            let namespace = override?.namespace ?? "default"
            let key = namespace + "/" + name
            var service =
                byName[key]
                ?? DiscoveredService(
                    name: name, namespace: namespace, ports: [], protocol: override?.protocol ?? .tcp,
                    labels: override?.labels ?? [:], uid: socket.owner.uid, cgroupPath: path, addresses: [])
            if !service.ports.contains(socket.address.port) { service.ports.append(socket.address.port) }
            if !service.addresses.contains(socket.address.address) { service.addresses.append(socket.address.address) }
            byName[key] = service
        }
        // Declared ports count even before the service listens on them.
        for override in overrides {
            let key = override.namespace + "/" + override.name
            guard let ports = override.ports, var service = byName[key] else { continue }
            for port in ports where !service.ports.contains(port) { service.ports.append(port) }
            byName[key] = service
        }
        let services = byName.values.map { service -> DiscoveredService in
            var sorted = service
            sorted.ports.sort()
            return sorted
        }.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        return (services, skipped)
    }
}
