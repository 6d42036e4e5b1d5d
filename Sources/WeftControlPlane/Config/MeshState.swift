import Foundation
import WeftCore

/// The registry as one in-memory value, kept current from the store's change feed; what config is compiled from.
struct MeshState: Sendable {
    var revision: Int64 = 0
    var nodes: [String: NodeRecord] = [:]
    var services: [ServiceName: ServiceRecord] = [:]
    var endpointsByNode: [String: [EndpointRecord]] = [:]
    var intentions: [String: Intention] = [:]
    var settings = MeshSettings()
    /// Revoked certificates by serial number.
    var revoked: [String: RevokedCertificate] = [:]

    /// Which compiled resources a feed invalidates.
    struct Dirty: Sendable {
        var services = Set<ServiceName>()
        var intentions = false
        var nodes = false
        var settings = false
        var revocations = false

        var isEmpty: Bool { services.isEmpty && !intentions && !nodes && !settings && !revocations }
    }

    /// Applies a feed; returns what changed. Objects of kinds that do not shape config are ignored.
    mutating func apply(_ feed: ChangeFeed) throws(StoreError) -> Dirty {
        var dirty = Dirty()
        for object in feed.upserts {
            switch object.kind {
            case .node:
                let node = try StoredCoding.decode(NodeRecord.self, from: object)
                if nodes[node.name]?.status != node.status {
                    dirty.services.formUnion(endpointsByNode[node.name, default: []].map(\.service))
                }
                nodes[node.name] = node
                dirty.nodes = true
            case .service:
                let service = try StoredCoding.decode(ServiceRecord.self, from: object)
                services[service.name] = service
                dirty.services.insert(service.name)
            case .nodeEndpoints:
                let endpoints = try StoredCoding.decode([EndpointRecord].self, from: object)
                dirty.services.formUnion(endpointsByNode[object.key, default: []].map(\.service))
                dirty.services.formUnion(endpoints.map(\.service))
                endpointsByNode[object.key] = endpoints
                dirty.nodes = true
            case .intention:
                intentions[object.key] = try StoredCoding.decode(Intention.self, from: object)
                dirty.intentions = true
            case .settings:
                settings = try StoredCoding.decode(MeshSettings.self, from: object)
                dirty.settings = true
            case .revokedCertificate:
                revoked[object.key] = try StoredCoding.decode(RevokedCertificate.self, from: object)
                dirty.revocations = true
            default:
                continue
            }
        }
        for deletion in feed.deletions {
            switch deletion.kind {
            case .node:
                nodes[deletion.key] = nil
                dirty.nodes = true
            case .service:
                if let name = services.keys.first(where: { Registry.key($0) == deletion.key }) {
                    services[name] = nil
                    dirty.services.insert(name)
                }
            case .nodeEndpoints:
                dirty.services.formUnion(endpointsByNode[deletion.key, default: []].map(\.service))
                endpointsByNode[deletion.key] = nil
                dirty.nodes = true
            case .intention:
                intentions[deletion.key] = nil
                dirty.intentions = true
            case .settings:
                settings = MeshSettings()
                dirty.settings = true
            case .revokedCertificate:
                revoked[deletion.key] = nil
                dirty.revocations = true
            default:
                continue
            }
        }
        revision = feed.revision
        return dirty
    }
}
