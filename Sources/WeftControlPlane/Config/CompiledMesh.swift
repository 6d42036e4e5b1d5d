import Foundation
import WeftCore

/// The config of every node at one revision. Resources every node gets (services, trust bundle) are encoded once
/// and shared; the per-node part (the `mesh` resource, and the intentions that concern the node's services) is
/// small and made on demand.
struct CompiledMesh: Sendable {
    let revision: Int64
    /// Service resources and the trust bundle, by resource name.
    let shared: [String: ConfigResource]
    /// What changed in `shared` since the previous compiled revision.
    let sharedDelta: SharedDelta
    let settings: MeshSettings
    let nodes: [String: NodeRecord]
    let trustDomain: String
    let vipRange: IPCIDR
    /// Encoded intentions by key, and indexes to find the ones that concern a node.
    let intentions: [String: ConfigResource]
    let intentionsByService: [ServiceName: Set<String>]
    let wildcardIntentions: Set<String>
    /// The services with an endpoint on each node.
    let localServices: [String: Set<ServiceName>]

    struct SharedDelta: Sendable {
        var from: Int64
        var to: Int64
        var changed: [ConfigResource]
        var removed: [String]
    }

    /// Compiles `state`, re-encoding only the services `dirty` names (and all of them without a previous mesh).
    init(
        state: MeshState, dirty: MeshState.Dirty, previous: CompiledMesh?, trustBundlePEM: String, trustDomain: String,
        vipRange: IPCIDR, now: Date = Date()
    ) throws {
        revision = state.revision
        settings = state.settings
        nodes = state.nodes
        self.trustDomain = trustDomain
        self.vipRange = vipRange

        var endpointsByService: [ServiceName: [ServiceEndpoint]] = [:]
        var local: [String: Set<ServiceName>] = [:]
        for (node, endpoints) in state.endpointsByNode {
            local[node] = Set(endpoints.map(\.service))
            guard state.nodes[node]?.status == .up else { continue }
            for endpoint in endpoints {
                endpointsByService[endpoint.service, default: []].append(
                    ServiceEndpoint(
                        address: endpoint.address, port: endpoint.port, node: node, healthy: endpoint.healthy)
                )
            }
        }
        // Client-only workloads count as the node's too: it judges their calls, so it needs their intentions.
        for (node, record) in state.nodes {
            local[node, default: []].formUnion(record.clientWorkloads ?? [])
        }
        localServices = local

        var shared = previous?.shared ?? [:]
        var changed: [ConfigResource] = []
        var removed: [String] = []
        let toEncode: [ServiceName] = previous == nil ? Array(state.services.keys) : Array(dirty.services)
        for name in toEncode {
            let resourceName = ConfigResource.serviceName(name)
            guard let record = state.services[name] else {
                if shared.removeValue(forKey: resourceName) != nil { removed.append(resourceName) }
                continue
            }
            let endpoints: [ServiceEndpoint]
            if record.origin == .external {
                // Outside the mesh: no node, the proxy connects directly.
                endpoints = record.externalAddresses.map {
                    ServiceEndpoint(address: $0.address, port: $0.port, node: "")
                }
            } else {
                endpoints = (endpointsByService[name] ?? []).sorted { ($0.node, $0.port) < ($1.node, $1.port) }
            }
            let service = MeshService(
                name: name.name, namespace: name.namespace, protocol: record.protocol, ports: record.ports,
                vip: record.vip,
                endpoints: endpoints, meshMode: record.meshMode
            )
            let resource = try ConfigResource.make(name: resourceName, service)
            if shared[resourceName]?.version != resource.version {
                shared[resourceName] = resource
                changed.append(resource)
            }
        }
        // Revocations travel with the trust bundle (nodes that predate them ignore the field); expired certificates
        // are refused by the chain check anyway.
        let revokedSerials = state.revoked.values.filter { $0.notAfter > now }.map(\.serialNumber).sorted()
        let bundle = try ConfigResource.make(
            name: ConfigResource.trustBundleName,
            TrustBundleResource(pem: trustBundlePEM, revokedSerials: revokedSerials.isEmpty ? nil : revokedSerials))
        if shared[bundle.name]?.version != bundle.version {
            shared[bundle.name] = bundle
            changed.append(bundle)
        }
        self.shared = shared
        sharedDelta = SharedDelta(from: previous?.revision ?? -1, to: revision, changed: changed, removed: removed)

        if let previous, !dirty.intentions {
            intentions = previous.intentions
            intentionsByService = previous.intentionsByService
            wildcardIntentions = previous.wildcardIntentions
        } else {
            var encoded: [String: ConfigResource] = [:]
            var byService: [ServiceName: Set<String>] = [:]
            var wildcard = Set<String>()
            for (key, intention) in state.intentions {
                let resource = try ConfigResource.make(name: ConfigResource.intentionName(intention), intention)
                encoded[key] = resource
                for selector in [intention.source, intention.destination] {
                    switch selector {
                    case .any: wildcard.insert(key)
                    case .service(let name): byService[name, default: []].insert(key)
                    }
                }
            }
            intentions = encoded
            intentionsByService = byService
            wildcardIntentions = wildcard
        }
    }

    /// The resources only this node gets: `mesh`, and every intention whose source or destination is one of its
    /// services or `*`.
    func nodeSpecific(for node: String) throws -> [String: ConfigResource] {
        let record = nodes[node]
        let mesh = MeshResource(
            node: node, trustDomain: trustDomain, meshMode: settings.meshMode,
            egress: record?.egress ?? settings.egress,
            defaultAction: settings.defaultAction, stopAll: settings.stopAll, vipRanges: [vipRange],
            telemetry: settings.telemetry
        )
        var result = [ConfigResource.meshName: try ConfigResource.make(name: ConfigResource.meshName, mesh)]
        var keys = wildcardIntentions
        for service in localServices[node] ?? [] { keys.formUnion(intentionsByService[service] ?? []) }
        for key in keys {
            if let resource = intentions[key] { result[resource.name] = resource }
        }
        return result
    }
}
