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
    /// Records that shape config but cannot be decoded, by kind and key. Each keeps its last readable value (none
    /// for one never read) until it decodes again or is deleted.
    var undecodable: [RecordID: UndecodableRecord] = [:]

    struct RecordID: Hashable, Sendable {
        var kind: ObjectKind
        var key: String
    }

    /// Which compiled resources a feed invalidates.
    struct Dirty: Sendable {
        var services = Set<ServiceName>()
        var intentions = false
        var nodes = false
        var settings = false
        var revocations = false

        var isEmpty: Bool { services.isEmpty && !intentions && !nodes && !settings && !revocations }
    }

    /// Applies a feed; returns what changed. Objects of kinds that do not shape config are ignored; one that cannot
    /// be decoded changes nothing and is listed in `undecodable`.
    mutating func apply(_ feed: ChangeFeed) -> Dirty {
        var dirty = Dirty()
        for object in feed.upserts {
            switch object.kind {
            case .node:
                guard let node = decode(NodeRecord.self, object) else { continue }
                if nodes[node.name]?.status != node.status {
                    dirty.services.formUnion(endpointsByNode[node.name, default: []].map(\.service))
                }
                nodes[node.name] = node
                dirty.nodes = true
            case .service:
                guard let service = decode(ServiceRecord.self, object) else { continue }
                services[service.name] = service
                dirty.services.insert(service.name)
            case .nodeEndpoints:
                guard let endpoints = decode([EndpointRecord].self, object) else { continue }
                dirty.services.formUnion(endpointsByNode[object.key, default: []].map(\.service))
                dirty.services.formUnion(endpoints.map(\.service))
                endpointsByNode[object.key] = endpoints
                dirty.nodes = true
            case .intention:
                guard let intention = decode(Intention.self, object) else { continue }
                intentions[object.key] = intention
                dirty.intentions = true
            case .settings:
                guard let decoded = decode(MeshSettings.self, object) else { continue }
                settings = decoded
                dirty.settings = true
            case .revokedCertificate:
                guard let revocation = decode(RevokedCertificate.self, object) else {
                    // Fail closed: the serial stays revoked even when nothing else about it can be read.
                    if revoked[object.key] == nil {
                        revoked[object.key] = RevokedCertificate(
                            serialNumber: object.key, identity: "", node: "", notAfter: .distantFuture,
                            revokedAt: .distantPast, revokedBy: "", reason: .revokedByAdmin)
                        dirty.revocations = true
                    }
                    continue
                }
                revoked[object.key] = revocation
                dirty.revocations = true
            default:
                continue
            }
        }
        for deletion in feed.deletions {
            undecodable[RecordID(kind: deletion.kind, key: deletion.key)] = nil
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

    /// The object's value, or nil (the object then listed in `undecodable`).
    private mutating func decode<T: Decodable>(_ type: T.Type, _ object: StoredObject) -> T? {
        let id = RecordID(kind: object.kind, key: object.key)
        switch StoredCoding.decoded(type, from: object) {
        case .success(let value):
            undecodable[id] = nil
            return value
        case .failure(let problem):
            undecodable[id] = UndecodableRecord(kind: object.kind.rawValue, name: object.key, reason: problem.reason)
            return nil
        }
    }
}
