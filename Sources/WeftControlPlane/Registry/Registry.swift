import Foundation
import WeftCore
import WeftIdentity

/// The control plane's domain operations over the store: every write an admin or a node can make, with its
/// validation, preconditions and audit record. Stateless apart from the store, so several weftd replicas can run it
/// over one PostgreSQL database.
public struct Registry: Sendable {
    public let store: any Store
    public let authority: CertificateAuthority
    public let configuration: RegistryConfiguration
    let now: @Sendable () -> Date

    public init(
        store: any Store, authority: CertificateAuthority, configuration: RegistryConfiguration,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.authority = authority
        self.configuration = configuration
        self.now = now
    }

    // MARK: Reading

    /// Every object of a kind, decoded. With `skippingUnreadable` (for listings) a record that cannot be decoded
    /// is left out instead of failing the whole read; config distribution reports it in `/v1/status`. Checks that
    /// must see every record (who may claim a name, the last write token) read without it.
    func all<T: Decodable & Sendable & Codable & Equatable>(
        _ kind: ObjectKind, as type: T.Type, skippingUnreadable: Bool = false
    ) async throws(RegistryError) -> [Revisioned<T>] {
        do throws(StoreError) {
            var result: [Revisioned<T>] = []
            for object in try await store.objects(kind) {
                switch StoredCoding.decoded(type, from: object) {
                case .success(let value): result.append(Revisioned(value: value, revision: object.revision))
                case .failure where skippingUnreadable: continue
                case .failure(let problem): throw problem.storeError(for: object)
                }
            }
            return result
        } catch { throw .store(error) }
    }

    func one<T: Decodable & Sendable & Codable & Equatable>(_ kind: ObjectKind, _ key: String, as type: T.Type)
        async throws(RegistryError) -> Revisioned<T>?
    {
        do {
            guard let object = try await store.object(kind, key) else { return nil }
            return Revisioned(value: try StoredCoding.decode(type, from: object), revision: object.revision)
        } catch { throw .store(error) }
    }

    func apply(_ changes: [ObjectChange], actor: String, action: String) async throws(RegistryError) -> Int64 {
        do { return try await store.apply(changes, audit: AuditContext(actor: actor, action: action)) } catch {
            throw RegistryError.from(error)
        }
    }

    /// If-Match for a change: `.revision` when the caller gave one, otherwise `.none`.
    static func precondition(ifMatch: Int64?) -> Precondition {
        ifMatch.map { $0 == 0 ? .absent : .revision($0) } ?? .none
    }

    public func revision() async throws(RegistryError) -> Int64 {
        do { return try await store.revision() } catch { throw .store(error) }
    }

    // MARK: Services

    public func services() async throws(RegistryError) -> [Revisioned<ServiceRecord>] {
        try await all(.service, as: ServiceRecord.self, skippingUnreadable: true)
    }

    public func service(_ name: ServiceName) async throws(RegistryError) -> Revisioned<ServiceRecord>? {
        try await one(.service, Self.key(name), as: ServiceRecord.self)
    }

    static func key(_ name: ServiceName) -> String { "\(name.namespace)/\(name.name)" }

    /// Creates or replaces a service defined by an admin (or an external service). A new service gets a VIP; an
    /// existing one keeps its VIP whatever the body says.
    @discardableResult
    public func putService(_ record: ServiceRecord, ifMatch: Int64?, actor: String) async throws(RegistryError)
        -> Revisioned<ServiceRecord>
    {
        try Self.validate(record)
        let key = Self.key(record.name)
        return try await retryingConflicts { () async throws(RegistryError) -> Revisioned<ServiceRecord> in
            let existing = try await service(record.name)
            var stored = record
            stored.placement = existing?.value.placement
            var changes: [ObjectChange] = []
            if let existing {
                stored.vip = existing.value.vip
            } else {
                let vip = try await freeVIP(for: record.name)
                stored.vip = vip
                changes.append(
                    .put(
                        .vipClaim, vip.description, StoredCoding.encode(VIPClaim(service: record.name)),
                        precondition: .absent))
            }
            let precondition = Self.precondition(ifMatch: ifMatch)
            changes.insert(.put(.service, key, StoredCoding.encode(stored), precondition: precondition), at: 0)
            let revision = try await apply(changes, actor: actor, action: "put service \(record.name)")
            return Revisioned(value: stored, revision: revision)
        }
    }

    public func deleteService(_ name: ServiceName, ifMatch: Int64?, actor: String) async throws(RegistryError) {
        guard let existing = try await service(name) else { throw .notFound(kind: "service", key: name.description) }
        var changes: [ObjectChange] = [
            .delete(
                .service, Self.key(name), precondition: ifMatch.map { .revision($0) } ?? .revision(existing.revision))
        ]
        if let vip = existing.value.vip { changes.append(.delete(.vipClaim, vip.description)) }
        _ = try await apply(changes, actor: actor, action: "delete service \(name)")
    }

    static func validate(_ record: ServiceRecord) throws(RegistryError) {
        if record.ports.isEmpty && record.origin != .external {
            throw .invalid(field: "ports", reason: "a service needs at least one port")
        }
        if record.ports.contains(0) { throw .invalid(field: "ports", reason: "ports must be 1-65535") }
        if Set(record.ports).count != record.ports.count {
            throw .invalid(field: "ports", reason: "a port is listed twice")
        }
        if record.origin == .external && record.externalAddresses.isEmpty {
            throw .invalid(field: "external_addresses", reason: "an external service needs at least one address:port")
        }
        if record.origin != .external && !record.externalAddresses.isEmpty {
            throw .invalid(field: "external_addresses", reason: "only external services have external addresses")
        }
        for (label, _) in record.labels where !Self.isLabelName(label) {
            throw .invalid(
                field: "labels",
                reason: "'\(label)': label names are 1-63 of A-Z a-z 0-9 . _ / -, starting with a letter or digit")
        }
    }

    static func isLabelName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        func alphanumeric(_ byte: UInt8) -> Bool {
            (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
        }
        guard (1...63).contains(bytes.count), alphanumeric(bytes[0]) else { return false }
        return bytes.allSatisfy { alphanumeric($0) || [46, 95, 47, 45].contains($0) }
    }

    struct VIPClaim: Codable, Equatable, Sendable {
        var service: ServiceName
    }

    func freeVIP(for name: ServiceName) async throws(RegistryError) -> IPAddress {
        let claims: [StoredObject]
        do { claims = try await store.objects(.vipClaim) } catch { throw .store(error) }
        let taken = Set(claims.compactMap { IPAddress($0.key) })
        guard let vip = VIPAllocator.allocate(for: name, in: configuration.vipRange, taken: taken) else {
            throw .vipRangeExhausted(configuration.vipRange)
        }
        return vip
    }

    /// Runs a read-modify-write again when another writer changed an object of one of `kinds` in between (all
    /// kinds when nil), after a short random pause so that racing writers spread out.
    func retryingConflicts<T>(on kinds: Set<ObjectKind>? = [.vipClaim], _ body: () async throws(RegistryError) -> T)
        async throws(RegistryError) -> T
    {
        var attempt = 0
        while true {
            do { return try await body() } catch {
                if case .staleRevision(let kind, _, _) = error, attempt < 16,
                    kinds.map({ $0.contains(ObjectKind(rawValue: kind)) }) ?? true
                {
                    attempt += 1
                    try? await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 * attempt))))
                    continue
                }
                throw error
            }
        }
    }

    // MARK: Intentions

    public func intentions() async throws(RegistryError) -> [Revisioned<Intention>] {
        try await all(.intention, as: Intention.self, skippingUnreadable: true)
    }

    public func intention(key: String) async throws(RegistryError) -> Revisioned<Intention>? {
        try await one(.intention, key, as: Intention.self)
    }

    @discardableResult
    public func putIntention(_ intention: Intention, ifMatch: Int64?, actor: String) async throws(RegistryError)
        -> Revisioned<Intention>
    {
        for (index, permission) in intention.permissions.enumerated() {
            if let path = permission.pathExact ?? permission.pathPrefix, path.utf8.first != UInt8(ascii: "/") {
                throw .invalid(field: "permissions[\(index)]", reason: "paths start with '/'")
            }
            if permission.pathExact != nil && permission.pathPrefix != nil {
                throw .invalid(field: "permissions[\(index)]", reason: "give path_exact or path_prefix, not both")
            }
            for method in permission.methods
            where !(1...20).contains(method.utf8.count) || !method.utf8.allSatisfy({ (65...90).contains($0) }) {
                throw .invalid(
                    field: "permissions[\(index)].methods", reason: "'\(method)' is not an upper-case HTTP method")
            }
        }
        let revision = try await apply(
            [
                .put(
                    .intention, intention.key, StoredCoding.encode(intention),
                    precondition: Self.precondition(ifMatch: ifMatch))
            ],
            actor: actor, action: "put intention \(intention.key)"
        )
        return Revisioned(value: intention, revision: revision)
    }

    public func deleteIntention(key: String, ifMatch: Int64?, actor: String) async throws(RegistryError) {
        guard let existing = try await intention(key: key) else { throw .notFound(kind: "intention", key: key) }
        _ = try await apply(
            [.delete(.intention, key, precondition: .revision(ifMatch ?? existing.revision))],
            actor: actor, action: "delete intention \(key)"
        )
    }

    // MARK: Settings

    static let settingsKey = "mesh"

    public func settings() async throws(RegistryError) -> Revisioned<MeshSettings> {
        try await one(.settings, Self.settingsKey, as: MeshSettings.self)
            ?? Revisioned(value: MeshSettings(), revision: 0)
    }

    @discardableResult
    public func putSettings(
        _ settings: MeshSettings, ifMatch: Int64?, actor: String, action: String = "put mesh settings"
    )
        async throws(RegistryError) -> Revisioned<MeshSettings>
    {
        if settings.telemetry.pushInterval < 1 || settings.telemetry.pushInterval > 3600 {
            throw .invalid(field: "telemetry.push_interval", reason: "must be 1-3600 seconds")
        }
        if !(0...1).contains(settings.telemetry.traceSampling) {
            throw .invalid(field: "telemetry.trace_sampling", reason: "must be between 0 and 1")
        }
        if settings.telemetry.metricsPush != .none && (settings.telemetry.metricsEndpoint ?? "").isEmpty {
            throw .invalid(field: "telemetry.metrics_endpoint", reason: "a metrics push needs an endpoint")
        }
        if settings.telemetry.metricsEndpoint?.contains("@") == true {
            throw .invalid(
                field: "telemetry.metrics_endpoint",
                reason:
                    "no credentials in the endpoint (every node and admin would see them): give each node metrics_push_bearer_token_file or metrics_push_basic_auth_file"
            )
        }
        let precondition: Precondition = ifMatch.map { $0 == 0 ? .absent : .revision($0) } ?? .none
        let revision = try await apply(
            [.put(.settings, Self.settingsKey, StoredCoding.encode(settings), precondition: precondition)],
            actor: actor, action: action
        )
        return Revisioned(value: settings, revision: revision)
    }

    /// Reads, changes and writes the settings, retrying when another writer got in between.
    @discardableResult
    public func updateSettings(actor: String, action: String, _ change: (inout MeshSettings) -> Void)
        async throws(RegistryError) -> Revisioned<MeshSettings>
    {
        for _ in 0..<8 {
            let current = try await settings()
            var updated = current.value
            change(&updated)
            do {
                return try await putSettings(updated, ifMatch: current.revision, actor: actor, action: action)
            } catch {
                if case .staleRevision = error { continue }
                throw error
            }
        }
        throw .store(.unavailable("the mesh settings kept changing under this write; retry"))
    }
}
