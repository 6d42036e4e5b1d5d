import Foundation
import WeftCore
import WeftIdentity

/// A node with its endpoints and when it was last seen, as the admin API shows it.
public struct NodeView: Sendable, Equatable, Codable {
    public var node: NodeRecord
    public var revision: Int64
    public var lastSeen: Date?
    public var endpoints: [EndpointRecord]

    enum CodingKeys: String, CodingKey {
        case node, revision, endpoints
        case lastSeen = "last_seen"
    }
}

/// What a node found listening: one service and its local endpoints.
public struct DiscoveredService: Sendable, Equatable {
    public var name: ServiceName
    public var `protocol`: ServiceProtocol
    public var endpoints: [IPSocketAddress]
    public var healthy: [Bool]
    public var labels: [String: String]

    public init(
        name: ServiceName, protocol: ServiceProtocol, endpoints: [IPSocketAddress], healthy: [Bool]? = nil,
        labels: [String: String] = [:]
    ) {
        self.name = name
        self.protocol = `protocol`
        self.endpoints = endpoints
        self.healthy = healthy ?? endpoints.map { _ in true }
        self.labels = labels
    }
}

extension Registry {
    // MARK: Join tokens

    /// Makes a one-time token with which the node `nodeName` can join. The secret is returned once and only its
    /// hash is stored.
    public func createJoinToken(nodeName: String, ttl: Duration, addresses: [IPAddress]? = nil, actor: String)
        async throws(RegistryError) -> (token: JoinToken, record: JoinTokenRecord)
    {
        do { try DNSLabel.validate(nodeName) } catch { throw .invalid(field: "name", reason: error.description) }
        if let addresses { try Self.validateNodeAddresses(addresses) }
        guard ttl >= .seconds(1), ttl <= .seconds(30 * 24 * 3600) else {
            throw .invalid(field: "ttl", reason: "must be between 1 second and 30 days")
        }
        let token = JoinToken(
            id: TokenText.random(bytes: 6), secret: TokenText.random(bytes: 24),
            caFingerprint: authority.trustBundleFingerprint)
        let created = now()
        let record = JoinTokenRecord(
            id: token.id, nodeName: nodeName, secretSHA256: TokenText.sha256(token.secret), createdAt: created,
            expiresAt: created.addingTimeInterval(ttl.timeInterval), createdBy: actor, usedAt: nil, revokedAt: nil,
            addresses: addresses
        )
        _ = try await apply(
            [.put(.joinToken, token.id, StoredCoding.encode(record), precondition: .absent)],
            actor: actor, action: "create join token \(token.id) for node \(nodeName)"
        )
        return (token, record)
    }

    public func joinTokens() async throws(RegistryError) -> [Revisioned<JoinTokenRecord>] {
        try await all(.joinToken, as: JoinTokenRecord.self, skippingUnreadable: true)
    }

    public func revokeJoinToken(id: String, actor: String) async throws(RegistryError) {
        guard let existing = try await one(.joinToken, id, as: JoinTokenRecord.self) else {
            throw .notFound(kind: "join token", key: id)
        }
        var record = existing.value
        guard record.revokedAt == nil else { return }
        record.revokedAt = now()
        _ = try await apply(
            [.put(.joinToken, id, StoredCoding.encode(record), precondition: .revision(existing.revision))],
            actor: actor, action: "revoke join token \(id)"
        )
    }

    /// Spends a join token and signs the node's CSR for `spiffe://<td>/node/<nodeName>`. The token is marked used in
    /// the same change that records the node, so two nodes racing with one token cannot both join.
    ///
    /// The node's addresses are fixed here: the token's when it names them, otherwise the ones the node declares;
    /// either way they must include `peer`, the address the join came from (nil only when the transport does not
    /// say). A node that declares none gets `peer`; a join over loopback (from weftd's host) is not checked.
    public func join(
        tokenText: String, nodeName: String, csrPEM: String, declaredAddresses: [IPAddress] = [],
        peer: IPAddress?
    ) async throws(RegistryError) -> IssuedCertificate {
        guard let token = JoinToken(parsing: tokenText) else {
            throw .joinRefused("the token is not a Weft join token (weftjoin.<id>.<secret>.<ca>)")
        }
        guard let stored = try await one(.joinToken, token.id, as: JoinTokenRecord.self),
            TokenText.constantTimeEqual(stored.value.secretSHA256, TokenText.sha256(token.secret))
        else { throw .joinRefused("unknown token") }
        let at = now()
        switch stored.value.state(at: at) {
        case "valid": break
        case let state: throw .joinRefused("the token is \(state): create a new one with `weftctl node token create`")
        }
        guard stored.value.nodeName == nodeName else {
            throw .joinRefused("the token is for node '\(stored.value.nodeName)', not '\(nodeName)'")
        }
        var addresses = stored.value.addresses ?? declaredAddresses.filter { !$0.isLoopback }
        // A join from weftd's own host (loopback) proves no address; the node's first registration fixes them.
        let remotePeer = peer.flatMap { $0.isLoopback ? nil : $0 }
        if addresses.isEmpty, let remotePeer { addresses = [remotePeer] }
        if let remotePeer, !addresses.contains(remotePeer) {
            throw .joinRefused(
                "this join comes from \(remotePeer), which is not one of the node's addresses (\(addresses.map(\.description).joined(separator: ", "))): \(stored.value.addresses == nil ? "set node_addresses in node.toml or " : "")create a token naming the address it joins from (`weftctl node token create --name \(nodeName) --address \(remotePeer)`)"
            )
        }
        let identity = SPIFFEID.node(trustDomain: configuration.trustDomain, name: nodeName)
        let issued: IssuedCertificate
        do {
            issued = try authority.issueWorkloadCertificate(
                csrPEM: csrPEM, for: identity, ttl: configuration.nodeCertificateTTL, now: at
            )
        } catch { throw .csrRejected(error) }
        var used = stored.value
        used.usedAt = at
        let existingNode = try await one(.node, nodeName, as: NodeRecord.self)
        var node = existingNode?.value ?? NodeRecord(name: nodeName, joinedAt: at)
        node.certificateSerial = issued.serialNumber
        node.status = .up
        node.joinedAt = at
        node.addresses = addresses
        do {
            _ = try await store.apply(
                [
                    .put(.joinToken, token.id, StoredCoding.encode(used), precondition: .revision(stored.revision)),
                    .put(.node, nodeName, StoredCoding.encode(node)),
                    .put(
                        .issuedCertificate, issued.serialNumber,
                        StoredCoding.encode(Self.record(issued, node: nodeName))),
                ],
                audit: AuditContext(
                    actor: identity.description,
                    action:
                        "join with token \(token.id) at \(addresses.map(\.description).joined(separator: ", "))")
            )
        } catch {
            if case .conflict = error { throw .joinRefused("the token was used at the same moment by another join") }
            throw .store(error)
        }
        return issued
    }

    static func validateNodeAddresses(_ addresses: [IPAddress]) throws(RegistryError) {
        guard !addresses.isEmpty else {
            throw .invalid(field: "addresses", reason: "a node needs at least one address")
        }
        guard Set(addresses).count == addresses.count else {
            throw .invalid(field: "addresses", reason: "an address is listed twice")
        }
        if let loopback = addresses.first(where: \.isLoopback) {
            throw .invalid(field: "addresses", reason: "\(loopback) is a loopback address: other hosts cannot reach it")
        }
    }

    static func record(_ issued: IssuedCertificate, node: String) -> IssuedCertificateRecord {
        IssuedCertificateRecord(
            serialNumber: issued.serialNumber, identity: issued.identity.description, node: node,
            notBefore: issued.notBefore, notAfter: issued.notAfter
        )
    }

    // MARK: Certificates for nodes

    /// Signs a CSR for `identity` on behalf of `node`: its own node identity, or a workload identity of a service
    /// with an endpoint on that node.
    public func signCertificate(node: String, identity: SPIFFEID, csrPEM: String, ttl: Duration?)
        async throws(RegistryError) -> IssuedCertificate
    {
        guard identity.trustDomain == configuration.trustDomain else {
            throw .forbidden("\(identity) is not in trust domain \(configuration.trustDomain)")
        }
        switch identity.kind {
        case .node(let name):
            guard name == node else { throw .forbidden("node \(node) may not obtain the identity of node \(name)") }
        case .workload(let namespace, let service):
            let serviceName = ServiceName(namespace: namespace, name: service)
            let endpoints = try await one(.nodeEndpoints, node, as: [EndpointRecord].self)?.value ?? []
            let clients = try await self.node(node)?.value.clientWorkloads ?? []
            guard endpoints.contains(where: { $0.service == serviceName }) || clients.contains(serviceName) else {
                throw .forbidden(
                    "node \(node) has no endpoint of service \(serviceName): a node gets certificates only for the services that run on it"
                )
            }
        }
        let defaultTTL = identity.isNode ? configuration.nodeCertificateTTL : configuration.workloadCertificateTTL
        let lifetime = min(ttl ?? defaultTTL, defaultTTL)
        let issued: IssuedCertificate
        do {
            issued = try authority.issueWorkloadCertificate(csrPEM: csrPEM, for: identity, ttl: lifetime, now: now())
        } catch {
            throw .csrRejected(error)
        }
        _ = try await apply(
            [.put(.issuedCertificate, issued.serialNumber, StoredCoding.encode(Self.record(issued, node: node)))],
            actor: SPIFFEID.node(trustDomain: configuration.trustDomain, name: node).description,
            action: "sign certificate for \(identity)"
        )
        return issued
    }

    public func issuedCertificates() async throws(RegistryError) -> [IssuedCertificateRecord] {
        try await all(.issuedCertificate, as: IssuedCertificateRecord.self, skippingUnreadable: true).map(\.value)
    }

    // MARK: Nodes

    public func nodes() async throws(RegistryError) -> [NodeView] {
        let records = try await all(.node, as: NodeRecord.self, skippingUnreadable: true)
        let endpoints = try await all(.nodeEndpoints, as: [EndpointRecord].self, skippingUnreadable: true)
        let seen: [String: Date]
        do { seen = try await store.heartbeats() } catch { throw .store(error) }
        var endpointsByNode: [String: [EndpointRecord]] = [:]
        for entry in endpoints { endpointsByNode[entry.value.first?.node ?? ""] = entry.value }
        return records.map { record in
            NodeView(
                node: record.value, revision: record.revision, lastSeen: seen[record.value.name],
                endpoints: endpointsByNode[record.value.name] ?? []
            )
        }
    }

    public func node(_ name: String) async throws(RegistryError) -> Revisioned<NodeRecord>? {
        try await one(.node, name, as: NodeRecord.self)
    }

    /// Sets a node's egress policy (nil: follow the mesh's).
    @discardableResult
    public func setNodeEgress(_ name: String, egress: EgressPolicy?, ifMatch: Int64?, actor: String)
        async throws(RegistryError) -> Revisioned<NodeRecord>
    {
        guard let existing = try await node(name) else { throw .notFound(kind: "node", key: name) }
        var record = existing.value
        record.egress = egress
        let revision = try await apply(
            [.put(.node, name, StoredCoding.encode(record), precondition: .revision(ifMatch ?? existing.revision))],
            actor: actor, action: "set egress of node \(name) to \(egress?.rawValue ?? "mesh default")"
        )
        return Revisioned(value: record, revision: revision)
    }

    /// Replaces what a node registered: its version, endpoints and client workloads; services it discovered that
    /// the registry does not know yet are created (with a VIP) and placed on it. What the node may not claim
    /// (``RegistrationClaims``) is left out and kept on the node record as refused claims. Marks the node up.
    @discardableResult
    public func register(node name: String, addresses: [IPAddress], version: String, services: [DiscoveredService])
        async throws(RegistryError) -> Int64
    {
        var seenNames = Set<ServiceName>()
        for service in services {
            guard seenNames.insert(service.name).inserted else {
                throw .invalid(field: "services", reason: "\(service.name) is listed twice")
            }
            for endpoint in service.endpoints where endpoint.port == 0 {
                throw .invalid(field: "services.\(service.name).endpoints", reason: "ports must be 1-65535")
            }
        }
        // Registrations of many nodes race on the services they share: each is a read-modify-write, so re-run it.
        return try await retryingConflicts(on: nil) { () async throws(RegistryError) -> Int64 in
            guard let existing = try await node(name) else {
                throw .forbidden("node \(name) has not joined")
            }
            var record = existing.value
            // Nodes that joined before addresses were fixed at join keep what they first register.
            if record.addresses.isEmpty { record.addresses = addresses }
            record.version = version
            record.status = .up
            let known = Dictionary(uniqueKeysWithValues: try await self.services().map { ($0.value.name, $0) })
            // Who serves each service now (for the first claim of an unplaced one), and this node's own endpoints.
            // Its own unreadable record is simply replaced below; while another node's cannot be read, no unplaced
            // service is claimed.
            var elsewhere: [ServiceName: Set<String>] = [:]
            var currentEndpoints: [EndpointRecord]?
            var elsewhereComplete = true
            let stored: [StoredObject]
            do throws(StoreError) { stored = try await store.objects(.nodeEndpoints) } catch { throw .store(error) }
            for object in stored {
                guard case .success(let records) = StoredCoding.decoded([EndpointRecord].self, from: object) else {
                    if object.key != name { elsewhereComplete = false }
                    continue
                }
                if object.key == name {
                    currentEndpoints = records
                } else {
                    for endpoint in records where endpoint.node != name {
                        elsewhere[endpoint.service, default: []].insert(endpoint.node)
                    }
                }
            }
            let claims = RegistrationClaims(
                node: name, fixedAddresses: record.addresses, services: services, known: known.mapValues(\.value),
                registeredElsewhere: elsewhere, elsewhereComplete: elsewhereComplete,
                clientLimit: configuration.clientWorkloadLimit)

            var changes: [ObjectChange] = []
            var claimed = Set<IPAddress>()
            var endpoints: [EndpointRecord] = []
            for service in claims.accepted {
                let ports = Set(service.endpoints.map(\.port)).sorted()
                if let current = known[service.name] {
                    var changed = current.value
                    if let placement = claims.placements[service.name] { changed.placement = placement }
                    if current.value.origin == .discovered, !Set(ports).isSubset(of: current.value.ports) {
                        changed.ports = Array(Set(current.value.ports).union(ports)).sorted()
                    }
                    if changed != current.value {
                        changes.append(
                            .put(
                                .service, Self.key(service.name), StoredCoding.encode(changed),
                                precondition: .revision(current.revision)))
                    }
                } else {
                    var vip = try await freeVIP(for: service.name)
                    if claimed.contains(vip) {
                        let taken = claimed.union(try await store.objectsKeys(.vipClaim))
                        guard
                            let other = VIPAllocator.allocate(
                                for: service.name, in: configuration.vipRange, taken: taken)
                        else {
                            throw .vipRangeExhausted(configuration.vipRange)
                        }
                        vip = other
                    }
                    claimed.insert(vip)
                    var created = ServiceRecord(
                        name: service.name, protocol: service.protocol, ports: ports, labels: service.labels, vip: vip,
                        origin: .discovered
                    )
                    created.placement = [name]
                    changes.append(
                        .put(.service, Self.key(service.name), StoredCoding.encode(created), precondition: .absent))
                    changes.append(
                        .put(
                            .vipClaim, vip.description, StoredCoding.encode(VIPClaim(service: service.name)),
                            precondition: .absent))
                }
                for (index, endpoint) in service.endpoints.enumerated() {
                    endpoints.append(
                        EndpointRecord(
                            service: service.name, node: name, address: endpoint.address, port: endpoint.port,
                            labels: service.labels, healthy: service.healthy[index]
                        )
                    )
                }
            }
            let clients = claims.accepted.filter(\.endpoints.isEmpty).map(\.name).sorted()
            record.clientWorkloads = clients.isEmpty ? nil : clients
            record.refusedClaims = claims.refused.isEmpty ? nil : claims.refused
            if existing.value != record {
                changes.append(
                    .put(.node, name, StoredCoding.encode(record), precondition: .revision(existing.revision)))
            }
            if currentEndpoints != endpoints {
                changes.append(.put(.nodeEndpoints, name, StoredCoding.encode(endpoints)))
            }
            let actor = SPIFFEID.node(trustDomain: configuration.trustDomain, name: name).description
            let action =
                claims.refused.isEmpty
                ? "register node \(name)"
                : "register node \(name) (refused: \(claims.refused.map(\.description).joined(separator: "; ")))"
            return try await apply(changes, actor: actor, action: action)
        }
    }

    /// Lets `node` serve `service` and call as it, besides the nodes it is placed on already.
    @discardableResult
    public func allowNode(_ node: String, for service: ServiceName, actor: String) async throws(RegistryError)
        -> Revisioned<ServiceRecord>
    {
        try await retryingConflicts(on: nil) { () async throws(RegistryError) -> Revisioned<ServiceRecord> in
            guard let existing = try await self.service(service) else {
                throw .notFound(kind: "service", key: service.description)
            }
            guard try await self.node(node) != nil else { throw .notFound(kind: "node", key: node) }
            guard existing.value.origin != .external else {
                throw .invalid(
                    field: "service", reason: "\(service) is an external service: it has no endpoints on nodes")
            }
            var record = existing.value
            guard !(record.placement ?? []).contains(node) else { return existing }
            record.placement = ((record.placement ?? []) + [node]).sorted()
            let revision = try await apply(
                [
                    .put(
                        .service, Self.key(service), StoredCoding.encode(record),
                        precondition: .revision(existing.revision))
                ], actor: actor, action: "allow node \(node) for service \(service)")
            return Revisioned(value: record, revision: revision)
        }
    }

    /// Takes `node` out of `service`'s placement: its endpoints of the service are withdrawn now and its
    /// certificate for it is not renewed.
    @discardableResult
    public func disallowNode(_ node: String, for service: ServiceName, actor: String) async throws(RegistryError)
        -> Revisioned<ServiceRecord>
    {
        try await retryingConflicts(on: nil) { () async throws(RegistryError) -> Revisioned<ServiceRecord> in
            guard let existing = try await self.service(service) else {
                throw .notFound(kind: "service", key: service.description)
            }
            var record = existing.value
            guard (record.placement ?? []).contains(node) else { return existing }
            record.placement = record.placement?.filter { $0 != node }
            var changes: [ObjectChange] = [
                .put(
                    .service, Self.key(service), StoredCoding.encode(record), precondition: .revision(existing.revision)
                )
            ]
            if let endpoints = try await one(.nodeEndpoints, node, as: [EndpointRecord].self) {
                let remaining = endpoints.value.filter { $0.service != service }
                if remaining != endpoints.value {
                    changes.append(
                        .put(
                            .nodeEndpoints, node, StoredCoding.encode(remaining),
                            precondition: .revision(endpoints.revision)))
                }
            }
            if let nodeRecord = try await self.node(node), nodeRecord.value.clientWorkloads?.contains(service) == true {
                var changed = nodeRecord.value
                changed.clientWorkloads = changed.clientWorkloads?.filter { $0 != service }
                if changed.clientWorkloads?.isEmpty == true { changed.clientWorkloads = nil }
                changes.append(
                    .put(.node, node, StoredCoding.encode(changed), precondition: .revision(nodeRecord.revision)))
            }
            let revision = try await apply(
                changes, actor: actor, action: "disallow node \(node) for service \(service)")
            return Revisioned(value: record, revision: revision)
        }
    }

    /// Fixes a node's addresses (an admin's correction of what was fixed at join); endpoints elsewhere are refused
    /// from its next registration on.
    @discardableResult
    public func setNodeAddresses(_ name: String, addresses: [IPAddress], ifMatch: Int64?, actor: String)
        async throws(RegistryError) -> Revisioned<NodeRecord>
    {
        try Self.validateNodeAddresses(addresses)
        guard let existing = try await node(name) else { throw .notFound(kind: "node", key: name) }
        var record = existing.value
        record.addresses = addresses
        let revision = try await apply(
            [.put(.node, name, StoredCoding.encode(record), precondition: .revision(ifMatch ?? existing.revision))],
            actor: actor,
            action: "set addresses of node \(name) to \(addresses.map(\.description).joined(separator: ", "))")
        return Revisioned(value: record, revision: revision)
    }

    /// Records that nodes were seen, and marks up a node that was down.
    public func recordSeen(_ nodes: [String: Date]) async throws(RegistryError) {
        guard !nodes.isEmpty else { return }
        do { try await store.recordHeartbeats(nodes) } catch { throw .store(error) }
    }

    /// Marks down every node not seen within the node timeout (its endpoints leave every node's config) and up
    /// every down node seen since. Returns the names whose status changed.
    @discardableResult
    public func refreshNodeStatus() async throws(RegistryError) -> [String] {
        let seen: [String: Date]
        do { seen = try await store.heartbeats() } catch { throw .store(error) }
        let deadline = now().addingTimeInterval(-configuration.nodeTimeout.timeInterval)
        var changed: [String] = []
        for entry in try await all(.node, as: NodeRecord.self, skippingUnreadable: true) {
            var record = entry.value
            let lastSeen = seen[record.name] ?? record.joinedAt
            let status: NodeRecord.Status = lastSeen < deadline ? .down : .up
            guard status != record.status else { continue }
            record.status = status
            do {
                _ = try await store.apply(
                    [.put(.node, record.name, StoredCoding.encode(record), precondition: .revision(entry.revision))],
                    audit: AuditContext(actor: "weftd", action: "mark node \(record.name) \(status.rawValue)")
                )
                changed.append(record.name)
            } catch {
                // Another replica changed the node first; the next sweep sees its state.
                if case .conflict = error { continue }
                throw .store(error)
            }
        }
        return changed
    }

    // MARK: Audit

    public func auditEntries(afterID: Int64, limit: Int) async throws(RegistryError) -> [AuditEntry] {
        do { return try await store.auditEntries(afterID: afterID, limit: limit) } catch { throw .store(error) }
    }
}

extension SPIFFEID {
    var isNode: Bool {
        if case .node = kind { return true }
        return false
    }
}

extension Store {
    func objectsKeys(_ kind: ObjectKind) async throws(RegistryError) -> Set<IPAddress> {
        do { return Set(try await objects(kind).compactMap { IPAddress($0.key) }) } catch { throw .store(error) }
    }
}
