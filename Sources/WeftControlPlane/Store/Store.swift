import Foundation
import WeftCore

/// Where the control plane keeps its state: JSON documents addressed by kind and key, one global revision that
/// every change bumps, an audit log, tombstones for deletions, node heartbeats, and a notification when anything
/// changed (also when another `weftd` sharing the database changed it).
///
/// Domain rules (VIP uniqueness, token use, validation) live above the store, in the registry; the store only
/// guarantees that a change set is applied atomically, in revision order, and only when its preconditions hold.
public protocol Store: Sendable {
    /// Creates or upgrades the schema; safe to call from several processes at once.
    func migrate() async throws(StoreError)

    /// The revision of the last committed change (0 for a new store).
    func revision() async throws(StoreError) -> Int64

    func object(_ kind: ObjectKind, _ key: String) async throws(StoreError) -> StoredObject?

    /// Every object of a kind, ordered by key.
    func objects(_ kind: ObjectKind) async throws(StoreError) -> [StoredObject]

    /// What changed after `revision`, read in one consistent snapshot. `since: 0` returns every object and no
    /// deletions.
    func changes(since revision: Int64) async throws(StoreError) -> ChangeFeed

    /// Applies all changes atomically under one new revision, or none of them when a precondition fails
    /// (`StoreError.conflict`). Each change gets an audit entry with the object's body before and after, unless
    /// `audit` is nil; bodies of kinds that are `redactedInAudit` are replaced by a marker. An empty change set
    /// commits nothing and returns the current revision.
    @discardableResult
    func apply(_ changes: [ObjectChange], audit: AuditContext?) async throws(StoreError) -> Int64

    /// Audit entries with id greater than `afterID`, oldest first, at most `limit`.
    func auditEntries(afterID: Int64, limit: Int) async throws(StoreError) -> [AuditEntry]

    /// Deletes the audit entries recorded before `time`; returns how many. Does not bump the revision.
    @discardableResult
    func pruneAudit(before time: Date) async throws(StoreError) -> Int

    /// Records when nodes were last seen. Does not bump the revision (heartbeats are frequent and change no config).
    func recordHeartbeats(_ seen: [String: Date]) async throws(StoreError)

    func heartbeats() async throws(StoreError) -> [String: Date]

    /// Revisions committed from now on, by this process or by another sharing the database. Each call returns a
    /// new independent stream; a consumer that falls behind may see only the newest revision (it then reads
    /// `changes(since:)` anyway).
    func notifications() -> AsyncStream<Int64>

    /// Closes connections; the store is unusable afterwards.
    func close() async
}

/// The kinds of stored objects. The raw value is what the database holds.
public struct ObjectKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let node = ObjectKind(rawValue: "node")
    public static let service = ObjectKind(rawValue: "service")
    /// The endpoints one node registered, keyed by node name.
    public static let nodeEndpoints = ObjectKind(rawValue: "node-endpoints")
    public static let intention = ObjectKind(rawValue: "intention")
    public static let settings = ObjectKind(rawValue: "settings")
    public static let joinToken = ObjectKind(rawValue: "join-token")
    public static let adminToken = ObjectKind(rawValue: "admin-token")
    public static let certificateAuthority = ObjectKind(rawValue: "certificate-authority")
    /// A VIP held by a service, keyed by address: the uniqueness guard for allocation across replicas.
    public static let vipClaim = ObjectKind(rawValue: "vip-claim")
    public static let issuedCertificate = ObjectKind(rawValue: "issued-certificate")
    /// A revoked certificate, keyed by serial number, kept until the certificate expires.
    public static let revokedCertificate = ObjectKind(rawValue: "revoked-certificate")
    /// Written once with the first admin token: replicas starting together make one bootstrap token, not one each.
    public static let bootstrapGuard = ObjectKind(rawValue: "bootstrap-guard")

    /// Kinds whose bodies must never be copied into the audit log.
    public var redactedInAudit: Bool { self == .certificateAuthority }

    public var description: String { rawValue }
}

public struct StoredObject: Sendable, Equatable {
    public var kind: ObjectKind
    public var key: String
    /// A JSON document.
    public var body: Data
    /// The revision of the change that last wrote this object.
    public var revision: Int64

    public init(kind: ObjectKind, key: String, body: Data, revision: Int64) {
        self.kind = kind
        self.key = key
        self.body = body
        self.revision = revision
    }
}

/// What must be true of an object for a change to it to apply.
public enum Precondition: Sendable, Equatable {
    case none
    /// The object must not exist.
    case absent
    /// The object must exist at exactly this revision (optimistic concurrency, HTTP If-Match).
    case revision(Int64)
}

public struct ObjectChange: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        case put(Data)
        case delete
    }

    public var kind: ObjectKind
    public var key: String
    public var operation: Operation
    public var precondition: Precondition

    public init(kind: ObjectKind, key: String, operation: Operation, precondition: Precondition = .none) {
        self.kind = kind
        self.key = key
        self.operation = operation
        self.precondition = precondition
    }

    public static func put(_ kind: ObjectKind, _ key: String, _ body: Data, precondition: Precondition = .none) -> Self
    {
        ObjectChange(kind: kind, key: key, operation: .put(body), precondition: precondition)
    }

    public static func delete(_ kind: ObjectKind, _ key: String, precondition: Precondition = .none) -> Self {
        ObjectChange(kind: kind, key: key, operation: .delete, precondition: precondition)
    }
}

/// Who made a change and why, for the audit log.
public struct AuditContext: Sendable, Equatable {
    /// The token name or node identity that made the change.
    public var actor: String
    /// What was asked, e.g. `PUT /v1/intentions/frontend/backend`.
    public var action: String

    public init(actor: String, action: String) {
        self.actor = actor
        self.action = action
    }
}

/// Objects written and deleted after some revision, up to `revision`.
public struct ChangeFeed: Sendable, Equatable {
    public struct Deletion: Sendable, Equatable, Hashable {
        public var kind: ObjectKind
        public var key: String
        public var revision: Int64

        public init(kind: ObjectKind, key: String, revision: Int64) {
            self.kind = kind
            self.key = key
            self.revision = revision
        }
    }

    public var revision: Int64
    public var upserts: [StoredObject]
    public var deletions: [Deletion]

    public init(revision: Int64, upserts: [StoredObject], deletions: [Deletion]) {
        self.revision = revision
        self.upserts = upserts
        self.deletions = deletions
    }
}

public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// A precondition did not hold; nothing was written.
    case conflict(kind: ObjectKind, key: String, expected: Precondition, actual: Int64?)
    /// The database could not be reached or refused the operation.
    case unavailable(String)
    /// The schema is newer than this weftd understands.
    case schemaTooNew(found: Int, supported: Int)
    case migrationFailed(String)
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .conflict(let kind, let key, let expected, let actual):
            let now = actual.map { "is at revision \($0)" } ?? "does not exist"
            let wanted: String
            switch expected {
            case .none: wanted = "any state"
            case .absent: wanted = "not to exist"
            case .revision(let r): wanted = "revision \(r)"
            }
            return "\(kind) '\(key)' \(now), the change expected \(wanted): read it again and retry"
        case .unavailable(let reason): return "the store is unavailable: \(reason)"
        case .schemaTooNew(let found, let supported):
            return "the database schema is version \(found) but this weftd supports up to \(supported): upgrade weftd"
        case .migrationFailed(let reason): return "migrating the database failed: \(reason)"
        case .invalidConfiguration(let reason): return "store configuration: \(reason)"
        }
    }
}

extension AuditEntry {
    /// What the audit log holds instead of the body of a kind that is `redactedInAudit`.
    public static let redactedMarker = "[redacted]"
}

extension ObjectKind {
    /// What an audit entry records for a body of this kind: its JSON text, `AuditEntry.redactedMarker` for kinds
    /// that are `redactedInAudit`, nil where there is no body (the object did not exist before, or no longer after).
    public func auditText(of body: Data?) -> String? {
        guard let body else { return nil }
        return redactedInAudit ? AuditEntry.redactedMarker : String(decoding: body, as: UTF8.self)
    }
}
