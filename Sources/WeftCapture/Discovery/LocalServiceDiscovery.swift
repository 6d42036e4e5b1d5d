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

    public init(
        name: String, namespace: String = "default", ports: [UInt16], protocol: ServiceProtocol = .tcp,
        labels: [String: String] = [:], uid: UInt32? = nil, cgroupPath: String? = nil, addresses: [IPAddress]
    ) {
        self.name = name
        self.namespace = namespace
        self.ports = ports
        self.protocol = `protocol`
        self.labels = labels
        self.uid = uid
        self.cgroupPath = cgroupPath
        self.addresses = addresses
    }
}

/// Finds local services: listening TCP sockets grouped by the trusted systemd unit (cgroup) that owns them, named
/// after it and described further by services.d overrides (`CgroupIdentityRules` decides, as for callers).
public struct LocalServiceDiscovery: Sendable {
    private let diagnostics: SocketDiagnostics
    private let cgroups: CgroupResolver
    private let rules: CgroupIdentityRules
    /// Ports never reported as services (the node's own listeners).
    public var excludedPorts: Set<UInt16>

    public init(
        diagnostics: SocketDiagnostics, cgroups: CgroupResolver, rules: CgroupIdentityRules = CgroupIdentityRules(),
        excludedPorts: Set<UInt16> = Set(WeftPort.node.map(\.rawValue))
    ) {
        self.diagnostics = diagnostics
        self.cgroups = cgroups
        self.rules = rules
        self.excludedPorts = excludedPorts
    }

    /// The services running now. `skipped` says which listeners were left out and why.
    public func discover(overrides: [ServiceOverride] = []) throws -> (services: [DiscoveredService], skipped: [String])
    {
        var byName: [String: DiscoveredService] = [:]
        var skipped: [String] = []
        for socket in try diagnostics.listeningTCPSockets() where !excludedPorts.contains(socket.address.port) {
            guard let entry = try cgroups.entry(forID: socket.owner.cgroupID) else {
                skipped.append("\(socket.address): its cgroup \(socket.owner.cgroupID) is not in the cgroup2 hierarchy")
                continue
            }
            let path = entry.path
            let (identity, override) = rules.identity(of: entry, uid: socket.owner.uid, overrides: overrides)
            if let ports = override?.ports, !ports.contains(socket.address.port) { continue }
            let name: String
            switch identity {
            case .service(let service): name = service
            case .noWorkload(let reason):
                skipped.append("\(socket.address): \(reason)")
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
