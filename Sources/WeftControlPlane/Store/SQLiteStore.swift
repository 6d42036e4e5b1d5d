import Foundation
import GRDB
import WeftCore

#if canImport(Glibc)
    import Glibc
#endif

/// The embedded store: one SQLite file in WAL mode (a GRDB `DatabasePool`: one writer, concurrent readers).
///
/// Meant for a single `weftd`: notifications reach the subscribers of this instance only. Writes are serialised by
/// SQLite itself (`BEGIN IMMEDIATE`), so another process opening the same file stays consistent, it just hears nothing.
public final class SQLiteStore: Store {
    /// The newest schema this build understands (migration identifiers are `v1`, `v2`, …).
    public static let supportedSchemaVersion = SQLiteSchema.supportedVersion

    public let path: String
    private let pool: DatabasePool
    private let broadcaster = RevisionBroadcaster()

    /// Opens (creating when missing) the database at `path`. A missing parent directory is created with mode 0700, a
    /// missing file with mode 0600. Call `migrate()` before anything else.
    ///
    /// - Parameter busyTimeout: how long a write waits for another process's write lock before failing.
    public init(path: String, busyTimeout: Duration = .seconds(10)) throws(StoreError) {
        guard !path.isEmpty else { throw .invalidConfiguration("the SQLite path is empty") }
        self.path = path
        try Self.createParentDirectory(of: path)
        try Self.createFile(at: path)

        var configuration = Configuration()
        configuration.label = "weft.store"
        configuration.busyMode = .timeout(busyTimeout.timeInterval)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw Self.storeError(error, doing: "opening \(path)")
        }
    }

    // MARK: Store

    public func migrate() async throws(StoreError) {
        // Two processes migrating the same new file at once: the loser of the race fails on the tables the winner
        // just created; its second attempt finds the migration applied.
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await migrateOnce()
                return
            } catch let error as StoreError {
                throw error
            } catch {
                if attempt < 2 { continue }
                throw .migrationFailed(Self.describe(error))
            }
        }
    }

    private func migrateOnce() async throws {
        let migrator = SQLiteSchema.migrator
        let found: Int? = try await pool.read { db in
            let unknown = try migrator.appliedIdentifiers(db).subtracting(migrator.migrations)
            guard !unknown.isEmpty else { return nil }
            return unknown.compactMap(SQLiteSchema.version(of:)).max() ?? SQLiteSchema.supportedVersion + 1
        }
        if let found {
            throw StoreError.schemaTooNew(found: found, supported: SQLiteSchema.supportedVersion)
        }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            migrator.asyncMigrate(pool) { result in
                continuation.resume(with: result.map { _ in () })
            }
        }
    }

    public func revision() async throws(StoreError) -> Int64 {
        try await access("reading the revision") {
            try await pool.read { db in try Self.currentRevision(db) }
        }
    }

    public func object(_ kind: ObjectKind, _ key: String) async throws(StoreError) -> StoredObject? {
        try await access("reading \(kind) '\(key)'") {
            try await pool.read { db in
                try Row.fetchOne(
                    db, sql: "SELECT kind, key, body, revision FROM objects WHERE kind = ? AND key = ?",
                    arguments: [kind.rawValue, key]
                ).map(Self.storedObject)
            }
        }
    }

    public func objects(_ kind: ObjectKind) async throws(StoreError) -> [StoredObject] {
        try await access("listing \(kind)") {
            try await pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT kind, key, body, revision FROM objects WHERE kind = ? ORDER BY key",
                    arguments: [kind.rawValue]
                ).map(Self.storedObject)
            }
        }
    }

    public func changes(since revision: Int64) async throws(StoreError) -> ChangeFeed {
        // A read is one transaction, and in WAL mode that is one snapshot.
        try await access("reading changes since revision \(revision)") {
            try await pool.read { db in
                let current = try Self.currentRevision(db)
                let upserts = try Row.fetchAll(
                    db,
                    sql:
                        "SELECT kind, key, body, revision FROM objects WHERE revision > ? ORDER BY revision, kind, key",
                    arguments: [revision]
                ).map(Self.storedObject)
                let deletions: [ChangeFeed.Deletion] =
                    revision <= 0
                    ? []
                    : try Row.fetchAll(
                        db,
                        sql:
                            "SELECT kind, key, revision FROM tombstones WHERE revision > ? ORDER BY revision, kind, key",
                        arguments: [revision]
                    ).map { row in
                        ChangeFeed.Deletion(
                            kind: ObjectKind(rawValue: row["kind"]), key: row["key"], revision: row["revision"])
                    }
                return ChangeFeed(revision: current, upserts: upserts, deletions: deletions)
            }
        }
    }

    @discardableResult
    public func apply(_ changes: [ObjectChange], audit: AuditContext?) async throws(StoreError) -> Int64 {
        guard !changes.isEmpty else { return try await revision() }
        let now = Date()
        let revision: Int64 = try await access("applying \(changes.count) change(s)") {
            try await pool.writeWithoutTransaction { db in
                var revision: Int64 = 0
                try db.inTransaction(.immediate) {
                    revision = try Self.apply(changes, audit: audit, time: now, db)
                    return .commit
                }
                return revision
            }
        }
        broadcaster.publish(revision)
        return revision
    }

    public func auditEntries(afterID: Int64, limit: Int) async throws(StoreError) -> [AuditEntry] {
        guard limit > 0 else { return [] }
        return try await access("reading the audit log") {
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT id, revision, time, actor, action, kind, key, before, after
                        FROM audit WHERE id > ? ORDER BY id LIMIT ?
                        """,
                    arguments: [afterID, limit]
                ).map { row in
                    AuditEntry(
                        id: row["id"], revision: row["revision"],
                        time: Date(timeIntervalSince1970: row["time"]),
                        actor: row["actor"], action: row["action"], kind: row["kind"], key: row["key"],
                        before: row["before"], after: row["after"]
                    )
                }
            }
        }
    }

    @discardableResult
    public func pruneAudit(before time: Date) async throws(StoreError) -> Int {
        try await access("pruning the audit log") {
            try await pool.write { db in
                try db.execute(sql: "DELETE FROM audit WHERE time < ?", arguments: [time.timeIntervalSince1970])
                return db.changesCount
            }
        }
    }

    public func recordHeartbeats(_ seen: [String: Date]) async throws(StoreError) {
        guard !seen.isEmpty else { return }
        try await access("recording heartbeats") {
            try await pool.write { db in
                let statement = try db.cachedStatement(
                    sql: """
                        INSERT INTO heartbeats (node, last_seen) VALUES (?, ?)
                        ON CONFLICT (node) DO UPDATE SET last_seen = excluded.last_seen
                        """
                )
                for (node, time) in seen {
                    try statement.execute(arguments: [node, time.timeIntervalSince1970])
                }
            }
        }
    }

    public func heartbeats() async throws(StoreError) -> [String: Date] {
        try await access("reading heartbeats") {
            try await pool.read { db in
                var result: [String: Date] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT node, last_seen FROM heartbeats") {
                    result[row["node"]] = Date(timeIntervalSince1970: row["last_seen"])
                }
                return result
            }
        }
    }

    public func notifications() -> AsyncStream<Int64> {
        broadcaster.subscribe()
    }

    public func close() async {
        broadcaster.finish()
        try? pool.close()
    }

    // MARK: Testing

    /// Runs raw SQL against the database; for tests that need a state the API cannot produce (a newer schema).
    func executeForTesting(_ sql: String) async throws {
        try await pool.write { db in try db.execute(sql: sql) }
    }

    // MARK: Implementation

    private static func apply(_ changes: [ObjectChange], audit: AuditContext?, time: Date, _ db: Database) throws
        -> Int64
    {
        // Every precondition first, against the state before the change set: nothing is written unless all hold.
        for change in changes {
            let actual = try Int64.fetchOne(
                db, sql: "SELECT revision FROM objects WHERE kind = ? AND key = ?",
                arguments: [change.kind.rawValue, change.key]
            )
            if !change.precondition.holds(for: actual) {
                throw StoreError.conflict(
                    kind: change.kind, key: change.key, expected: change.precondition, actual: actual)
            }
        }

        try db.execute(sql: "UPDATE meta SET revision = revision + 1 WHERE id = 1")
        let revision = try currentRevision(db)

        for change in changes {
            let kind = change.kind.rawValue
            let before: Data? =
                audit == nil
                ? nil
                : try Data.fetchOne(
                    db, sql: "SELECT body FROM objects WHERE kind = ? AND key = ?", arguments: [kind, change.key])
            let after: Data?
            switch change.operation {
            case .put(let body):
                after = body
                try db.execute(
                    sql: """
                        INSERT INTO objects (kind, key, body, revision) VALUES (?, ?, ?, ?)
                        ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body, revision = excluded.revision
                        """,
                    arguments: [kind, change.key, body, revision]
                )
                try db.execute(sql: "DELETE FROM tombstones WHERE kind = ? AND key = ?", arguments: [kind, change.key])
            case .delete:
                after = nil
                try db.execute(sql: "DELETE FROM objects WHERE kind = ? AND key = ?", arguments: [kind, change.key])
                try db.execute(
                    sql: """
                        INSERT INTO tombstones (kind, key, revision) VALUES (?, ?, ?)
                        ON CONFLICT (kind, key) DO UPDATE SET revision = excluded.revision
                        """,
                    arguments: [kind, change.key, revision]
                )
            }
            if let audit {
                try db.execute(
                    sql: """
                        INSERT INTO audit (revision, time, actor, action, kind, key, before, after)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        revision, time.timeIntervalSince1970, audit.actor, audit.action, kind, change.key,
                        change.kind.auditText(of: before), change.kind.auditText(of: after),
                    ]
                )
            }
        }
        return revision
    }

    private static func currentRevision(_ db: Database) throws -> Int64 {
        guard let revision = try Int64.fetchOne(db, sql: "SELECT revision FROM meta WHERE id = 1") else {
            throw StoreError.unavailable("the meta table has no revision row (was migrate() run?)")
        }
        return revision
    }

    private static func storedObject(_ row: Row) -> StoredObject {
        StoredObject(
            kind: ObjectKind(rawValue: row["kind"]), key: row["key"], body: row["body"], revision: row["revision"])
    }

    /// Runs one database access and maps whatever it throws to a `StoreError`.
    private func access<T>(_ what: String, _ body: () async throws -> T) async throws(StoreError) -> T {
        do {
            return try await body()
        } catch {
            throw Self.storeError(error, doing: what)
        }
    }

    private static func storeError(_ error: any Error, doing what: String) -> StoreError {
        if let error = error as? StoreError { return error }
        return .unavailable("\(what): \(describe(error))")
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? DatabaseError {
            return "SQLite error \(error.resultCode.rawValue): \(error.message ?? "\(error.resultCode)")"
        }
        if error is CancellationError { return "cancelled" }
        return "\(error)"
    }

    private static func createParentDirectory(of path: String) throws(StoreError) {
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var missing: [String] = []
        var directory = parent
        while !directory.isEmpty, directory != "/", !FileManager.default.fileExists(atPath: directory) {
            missing.append(directory)
            directory = URL(fileURLWithPath: directory).deletingLastPathComponent().path
        }
        for directory in missing.reversed() {
            if mkdir(directory, 0o700) != 0 && errno != EEXIST {
                throw .unavailable("cannot create the directory \(directory): \(String(cString: strerror(errno)))")
            }
            _ = chmod(directory, 0o700)
        }
    }

    private static func createFile(at path: String) throws(StoreError) {
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            _ = fchmod(fd, 0o600)  // exactly 0600, whatever the umask
            _ = Glibc.close(fd)
        } else if errno != EEXIST {
            throw .unavailable("cannot create the database file \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// The SQLite schema, one GRDB migration per version.
enum SQLiteSchema {
    static let supportedVersion = 1

    static func version(of identifier: String) -> Int? {
        identifier.hasPrefix("v") ? Int(identifier.dropFirst()) : nil
    }

    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        revision INTEGER NOT NULL
                    );
                    INSERT INTO meta (id, revision) VALUES (1, 0);
                    CREATE TABLE objects (
                        kind TEXT NOT NULL,
                        key TEXT NOT NULL,
                        body BLOB NOT NULL,
                        revision INTEGER NOT NULL,
                        PRIMARY KEY (kind, key)
                    ) WITHOUT ROWID;
                    CREATE INDEX objects_revision ON objects (revision);
                    CREATE TABLE tombstones (
                        kind TEXT NOT NULL,
                        key TEXT NOT NULL,
                        revision INTEGER NOT NULL,
                        PRIMARY KEY (kind, key)
                    ) WITHOUT ROWID;
                    CREATE INDEX tombstones_revision ON tombstones (revision);
                    CREATE TABLE audit (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        revision INTEGER NOT NULL,
                        time REAL NOT NULL,
                        actor TEXT NOT NULL,
                        action TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        key TEXT NOT NULL,
                        before TEXT,
                        after TEXT
                    );
                    CREATE INDEX audit_revision ON audit (revision);
                    CREATE TABLE heartbeats (
                        node TEXT PRIMARY KEY NOT NULL,
                        last_seen REAL NOT NULL
                    );
                    """
            )
        }
        return migrator
    }()
}

extension Precondition {
    /// Whether the precondition holds for an object currently at `actual` (nil: it does not exist).
    func holds(for actual: Int64?) -> Bool {
        switch self {
        case .none: true
        case .absent: actual == nil
        case .revision(let expected): actual == expected
        }
    }
}
