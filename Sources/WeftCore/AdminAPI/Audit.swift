#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One write in the audit log: who made it, when, and the object before and after.
public struct AuditEntry: Sendable, Equatable, Codable {
    public var id: Int64
    public var revision: Int64
    public var time: Date
    public var actor: String
    public var action: String
    public var kind: String
    public var key: String
    /// JSON text of the object before and after the change; nil where it did not exist.
    public var before: String?
    public var after: String?

    public init(
        id: Int64, revision: Int64, time: Date, actor: String, action: String, kind: String, key: String,
        before: String?, after: String?
    ) {
        self.id = id
        self.revision = revision
        self.time = time
        self.actor = actor
        self.action = action
        self.kind = kind
        self.key = key
        self.before = before
        self.after = after
    }
}

/// GET /v1/audit: entries oldest first.
public struct AuditPage: Sendable, Equatable, Codable {
    public var entries: [AuditEntry]
    /// Pass as `after` to read the next page; equal to the request's `after` when there is nothing newer.
    public var nextAfter: Int64

    public init(entries: [AuditEntry], nextAfter: Int64) {
        self.entries = entries
        self.nextAfter = nextAfter
    }

    enum CodingKeys: String, CodingKey {
        case entries
        case nextAfter = "next_after"
    }
}
