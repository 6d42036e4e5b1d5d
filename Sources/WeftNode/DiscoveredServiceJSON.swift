import WeftCapture

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One line of `weft-node discover --json`: a discovered service, with `null` for an unknown uid or cgroup.
struct DiscoveredServiceJSON: Encodable {
    var name: String
    var namespace: String
    var ports: [Int]
    var `protocol`: String
    var uid: Int?
    var cgroup: String?
    var labels: [String: String]

    init(_ service: DiscoveredService) {
        name = service.name
        namespace = service.namespace
        ports = service.ports.map(Int.init)
        `protocol` = service.protocol.rawValue
        uid = service.uid.map(Int.init)
        cgroup = service.cgroupPath
        labels = service.labels
    }

    private enum CodingKeys: String, CodingKey {
        case name, namespace, ports, `protocol`, uid, cgroup, labels
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(namespace, forKey: .namespace)
        try container.encode(ports, forKey: .ports)
        try container.encode(`protocol`, forKey: .protocol)
        try container.encode(uid, forKey: .uid)  // `encode`, not `encodeIfPresent`: nil is written as null
        try container.encode(cgroup, forKey: .cgroup)
        try container.encode(labels, forKey: .labels)
    }

    /// The service as one line of JSON, keys sorted.
    func line() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
