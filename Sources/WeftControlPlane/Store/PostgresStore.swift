import Foundation
import Logging
import PostgresNIO
import Synchronization
import WeftCore

/// The shared store for several `weftd` replicas: one PostgreSQL database.
///
/// - Queries go through a `PostgresClient` (a connection pool with keep-alive and reconnects). The pool waits for a
///   connection without limit, so each operation gives it `timeout` to hand one out and otherwise fails with
///   `StoreError.unavailable`, carrying what a direct connection attempt reports (the server's message, e.g. a wrong
///   password or a missing database).
/// - `migrate()` runs on a connection of its own, so that a misconfigured URL fails at once with the server's answer.
/// - Writers serialise on the `meta` row: `apply` begins with `UPDATE meta SET revision = revision + 1`, so the
///   revision, the objects and the audit ids advance in commit order across every process, and preconditions are
///   checked (READ COMMITTED, after that lock) against the latest committed state.
/// - Every commit sends `pg_notify('weft_changes', revision)` in its transaction; a dedicated LISTEN connection feeds
///   `notifications()` with the revisions of every process (see `PostgresListener`). Local commits are also published
///   directly after commit, so they reach local subscribers even while LISTEN reconnects.
public final class PostgresStore: Store {
    /// The newest schema version this build understands.
    public static let supportedSchemaVersion = PostgresSchema.supportedVersion

    public let url: PostgresURL
    private let timeout: Duration
    private let logger: Logger
    private let connectionConfiguration: PostgresConnection.Configuration
    private let client: PostgresClient
    private let clientTask: Task<Void, Never>
    private let broadcaster = RevisionBroadcaster()
    private let listener: PostgresListener

    /// - Parameters:
    ///   - url: see `PostgresURL`.
    ///   - timeout: how long an operation waits for a connection (and `migrate()` for LISTEN to be in place).
    ///   - logger: receives the pool's and the listener's background messages; none when nil.
    public convenience init(url: String, timeout: Duration = .seconds(10), logger: Logger? = nil) throws(StoreError) {
        try self.init(url: PostgresURL(url), timeout: timeout, logger: logger)
    }

    public init(url: PostgresURL, timeout: Duration = .seconds(10), logger: Logger? = nil) throws(StoreError) {
        self.url = url
        self.timeout = timeout
        let logger = logger ?? Logger(label: "weft.store.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        self.logger = logger
        connectionConfiguration = try url.connectionConfiguration()
        let client = PostgresClient(configuration: try url.clientConfiguration(), backgroundLogger: logger)
        self.client = client
        // Started immediately (synchronously up to its first suspension), so the pool runs before the first lease.
        if #available(macOS 26, *) {
            clientTask = Task.immediate { await client.run() }
        } else {
            clientTask = Task { await client.run() }
        }
        var listenerConfiguration = connectionConfiguration
        listenerConfiguration.options.additionalStartupParameters = [
            ("application_name", (url.applicationName ?? "weftd") + " listen")
        ]
        listener = PostgresListener(
            configuration: listenerConfiguration, server: url.description, broadcaster: broadcaster, logger: logger
        )
    }

    deinit {
        // Not closed: at least stop the background work (close() also waits for it).
        listener.cancel()
        clientTask.cancel()
    }

    // MARK: Store

    public func migrate() async throws(StoreError) {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                configuration: connectionConfiguration, id: 0, logger: logger
            )
        } catch {
            throw .unavailable(PostgresErrors.describe(error, server: url.description))
        }
        do {
            try await PostgresSchema.migrate(connection, logger: logger)
            try? await connection.close()
        } catch let error as StoreError {
            try? await connection.close()
            throw error
        } catch {
            try? await connection.close()
            throw .migrationFailed(PostgresErrors.describe(error, server: url.description))
        }
        try await listener.waitUntilListening(timeout: timeout)
    }

    public func revision() async throws(StoreError) -> Int64 {
        let logger = self.logger
        return try await withConnection("reading the revision") { connection in
            try await Self.currentRevision(connection, logger: logger)
        }
    }

    public func object(_ kind: ObjectKind, _ key: String) async throws(StoreError) -> StoredObject? {
        let logger = self.logger
        return try await withConnection("reading \(kind) '\(key)'") { connection in
            try await Self.storedObjects(
                connection.query(
                    "SELECT kind, key, body, revision FROM objects WHERE kind = \(kind.rawValue) AND key = \(key)",
                    logger: logger
                )
            ).first
        }
    }

    public func objects(_ kind: ObjectKind) async throws(StoreError) -> [StoredObject] {
        let logger = self.logger
        return try await withConnection("listing \(kind)") { connection in
            try await Self.storedObjects(
                connection.query(
                    "SELECT kind, key, body, revision FROM objects WHERE kind = \(kind.rawValue) ORDER BY key",
                    logger: logger
                )
            )
        }
    }

    public func changes(since revision: Int64) async throws(StoreError) -> ChangeFeed {
        let logger = self.logger
        // One snapshot for the revision, the objects and the tombstones.
        return try await transaction(
            "reading changes since revision \(revision)", mode: "ISOLATION LEVEL REPEATABLE READ READ ONLY"
        ) { connection in
            let current = try await Self.currentRevision(connection, logger: logger)
            let upserts = try await Self.storedObjects(
                connection.query(
                    """
                    SELECT kind, key, body, revision FROM objects WHERE revision > \(revision)
                    ORDER BY revision, kind, key
                    """,
                    logger: logger
                )
            )
            var deletions: [ChangeFeed.Deletion] = []
            if revision > 0 {
                let rows = try await connection.query(
                    """
                    SELECT kind, key, revision FROM tombstones WHERE revision > \(revision)
                    ORDER BY revision, kind, key
                    """,
                    logger: logger
                )
                for try await (kind, key, revision) in rows.decode((String, String, Int64).self) {
                    deletions.append(
                        ChangeFeed.Deletion(kind: ObjectKind(rawValue: kind), key: key, revision: revision))
                }
            }
            return ChangeFeed(revision: current, upserts: upserts, deletions: deletions)
        }
    }

    @discardableResult
    public func apply(_ changes: [ObjectChange], audit: AuditContext?) async throws(StoreError) -> Int64 {
        guard !changes.isEmpty else { return try await revision() }
        let logger = self.logger
        let now = Date()
        let revision = try await transaction("applying \(changes.count) change(s)") { connection in
            try await Self.apply(changes, audit: audit, time: now, connection, logger: logger)
        }
        broadcaster.publish(revision)
        return revision
    }

    public func auditEntries(afterID: Int64, limit: Int) async throws(StoreError) -> [AuditEntry] {
        guard limit > 0 else { return [] }
        let logger = self.logger
        return try await withConnection("reading the audit log") { connection in
            let rows = try await connection.query(
                """
                SELECT id, revision, time, actor, action, kind, key, before, after
                FROM audit WHERE id > \(afterID) ORDER BY id LIMIT \(Int64(limit))
                """,
                logger: logger
            )
            var entries: [AuditEntry] = []
            for try await (id, revision, time, actor, action, kind, key, before, after) in rows.decode(
                (Int64, Int64, Date, String, String, String, String, String?, String?).self
            ) {
                entries.append(
                    AuditEntry(
                        id: id, revision: revision, time: time, actor: actor, action: action, kind: kind, key: key,
                        before: before, after: after
                    )
                )
            }
            return entries
        }
    }

    @discardableResult
    public func pruneAudit(before time: Date) async throws(StoreError) -> Int {
        let logger = self.logger
        return try await withConnection("pruning the audit log") { connection in
            let rows = try await connection.query(
                "WITH pruned AS (DELETE FROM audit WHERE time < \(time) RETURNING 1) SELECT count(*) FROM pruned",
                logger: logger
            )
            var count: Int64 = 0
            for try await value in rows.decode(Int64.self) {
                count = value
            }
            return Int(count)
        }
    }

    public func recordHeartbeats(_ seen: [String: Date]) async throws(StoreError) {
        guard !seen.isEmpty else { return }
        let logger = self.logger
        let nodes = Array(seen.keys)
        let times = nodes.map { seen[$0]! }
        try await withConnection("recording heartbeats") { connection in
            _ = try await connection.query(
                """
                INSERT INTO heartbeats (node, last_seen)
                SELECT * FROM unnest(\(nodes)::TEXT[], \(times)::TIMESTAMPTZ[])
                ON CONFLICT (node) DO UPDATE SET last_seen = EXCLUDED.last_seen
                """,
                logger: logger
            )
        }
    }

    public func heartbeats() async throws(StoreError) -> [String: Date] {
        let logger = self.logger
        return try await withConnection("reading heartbeats") { connection in
            let rows = try await connection.query("SELECT node, last_seen FROM heartbeats", logger: logger)
            var result: [String: Date] = [:]
            for try await (node, time) in rows.decode((String, Date).self) {
                result[node] = time
            }
            return result
        }
    }

    public func notifications() -> AsyncStream<Int64> {
        let stream = broadcaster.subscribe()
        listener.start()
        return stream
    }

    public func close() async {
        broadcaster.finish()
        await listener.stop()
        clientTask.cancel()
        await clientTask.value
    }

    // MARK: Testing

    /// Runs one raw SQL statement on a pooled connection; for tests that need a state the API cannot produce.
    func executeForTesting(_ sql: String) async throws(StoreError) {
        let logger = self.logger
        try await withConnection("running test SQL") { connection in
            _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }

    /// Runs one raw SQL query whose first column is an integer, and returns that column.
    func int64sForTesting(_ sql: String) async throws(StoreError) -> [Int64] {
        let logger = self.logger
        return try await withConnection("running test SQL") { connection in
            var values: [Int64] = []
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
            for try await value in rows.decode(Int64.self) {
                values.append(value)
            }
            return values
        }
    }

    // MARK: Implementation

    private static func apply(
        _ changes: [ObjectChange], audit: AuditContext?, time: Date, _ connection: PostgresConnection, logger: Logger
    ) async throws -> Int64 {
        // First, so that this row lock orders every writer of every process; then the preconditions see the latest
        // committed state (READ COMMITTED takes a new snapshot per statement).
        let bumped = try await connection.query(
            "UPDATE meta SET revision = revision + 1 WHERE id = 1 RETURNING revision", logger: logger
        )
        var revision: Int64?
        for try await value in bumped.decode(Int64.self) {
            revision = value
        }
        guard let revision else { throw StoreError.unavailable("the meta table has no revision row") }

        for change in changes {
            let actual = try await objectRevision(change.kind, change.key, connection, logger: logger)
            if !change.precondition.holds(for: actual) {
                throw StoreError.conflict(
                    kind: change.kind, key: change.key, expected: change.precondition, actual: actual)
            }
        }

        for change in changes {
            let kind = change.kind.rawValue
            let key = change.key
            var before: Data?
            if audit != nil {
                let rows = try await connection.query(
                    "SELECT body FROM objects WHERE kind = \(kind) AND key = \(key)", logger: logger
                )
                for try await body in rows.decode(Data.self) {
                    before = body
                }
            }
            let after: Data?
            switch change.operation {
            case .put(let body):
                after = body
                try await connection.query(
                    """
                    INSERT INTO objects (kind, key, body, revision) VALUES (\(kind), \(key), \(body), \(revision))
                    ON CONFLICT (kind, key) DO UPDATE SET body = EXCLUDED.body, revision = EXCLUDED.revision
                    """,
                    logger: logger
                )
                try await connection.query(
                    "DELETE FROM tombstones WHERE kind = \(kind) AND key = \(key)", logger: logger
                )
            case .delete:
                after = nil
                try await connection.query("DELETE FROM objects WHERE kind = \(kind) AND key = \(key)", logger: logger)
                try await connection.query(
                    """
                    INSERT INTO tombstones (kind, key, revision) VALUES (\(kind), \(key), \(revision))
                    ON CONFLICT (kind, key) DO UPDATE SET revision = EXCLUDED.revision
                    """,
                    logger: logger
                )
            }
            if let audit {
                let beforeText = change.kind.auditText(of: before)
                let afterText = change.kind.auditText(of: after)
                try await connection.query(
                    """
                    INSERT INTO audit (revision, time, actor, action, kind, key, before, after)
                    VALUES (\(revision), \(time), \(audit.actor), \(audit.action), \(kind), \(key), \(beforeText), \(afterText))
                    """,
                    logger: logger
                )
            }
        }

        try await connection.query(
            "SELECT pg_notify(\(PostgresListener.channel), \(String(revision)))", logger: logger
        )
        return revision
    }

    private static func objectRevision(
        _ kind: ObjectKind, _ key: String, _ connection: PostgresConnection, logger: Logger
    ) async throws -> Int64? {
        let rows = try await connection.query(
            "SELECT revision FROM objects WHERE kind = \(kind.rawValue) AND key = \(key)", logger: logger
        )
        var revision: Int64?
        for try await value in rows.decode(Int64.self) {
            revision = value
        }
        return revision
    }

    private static func currentRevision(_ connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        let rows = try await connection.query("SELECT revision FROM meta WHERE id = 1", logger: logger)
        var revision: Int64?
        for try await value in rows.decode(Int64.self) {
            revision = value
        }
        guard let revision else {
            throw StoreError.unavailable("the meta table has no revision row (was migrate() run?)")
        }
        return revision
    }

    private static func storedObjects(_ rows: PostgresRowSequence) async throws -> [StoredObject] {
        var objects: [StoredObject] = []
        for try await (kind, key, body, revision) in rows.decode((String, String, Data, Int64).self) {
            objects.append(StoredObject(kind: ObjectKind(rawValue: kind), key: key, body: body, revision: revision))
        }
        return objects
    }

    /// Runs `body` in a transaction on a pooled connection: committed when it returns, rolled back when it throws.
    private func transaction<T: Sendable>(
        _ what: String, mode: String = "ISOLATION LEVEL READ COMMITTED",
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(StoreError) -> T {
        let logger = self.logger
        return try await withConnection(what) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "BEGIN \(mode)"), logger: logger)
            let value: T
            do {
                value = try await body(connection)
            } catch {
                do {
                    try await connection.query("ROLLBACK", logger: logger)
                } catch {
                    // A connection whose transaction state is unknown must not go back to the pool.
                    let _: EventLoopFuture<Void> = connection.close()
                }
                throw error
            }
            try await connection.query("COMMIT", logger: logger)
            return value
        }
    }

    /// Leases a pooled connection for `body`, giving the pool `timeout` to hand one out.
    private func withConnection<T: Sendable>(
        _ what: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws(StoreError) -> T {
        let client = self.client
        let timeout = self.timeout
        let race = LeaseRace()
        do {
            return try await withThrowingTaskGroup(of: LeaseOutcome<T>.self) { group in
                group.addTask {
                    .value(
                        try await client.withConnection { connection in
                            guard race.lease() else { throw LeaseTimedOut() }
                            return try await body(connection)
                        }
                    )
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return !Task.isCancelled && race.timeOut() ? .timedOut : .leased
                }
                while let outcome = try await group.next() {
                    switch outcome {
                    case .value(let value):
                        group.cancelAll()
                        return value
                    case .timedOut:
                        throw LeaseTimedOut()
                    case .leased:
                        continue
                    }
                }
                throw LeaseTimedOut()
            }
        } catch is LeaseTimedOut {
            throw await unavailableAfterTimeout(what)
        } catch {
            throw PostgresErrors.storeError(error, doing: what, server: url.description)
        }
    }

    /// Why the pool handed out no connection: a direct attempt tells (the pool keeps its connect errors to itself).
    private func unavailableAfterTimeout(_ what: String) async -> StoreError {
        do {
            let probe = try await PostgresConnection.connect(
                configuration: connectionConfiguration, id: 0, logger: logger
            )
            try? await probe.close()
            return .unavailable("\(what): no connection to \(url) became free within \(timeout)")
        } catch {
            return .unavailable("\(what): \(PostgresErrors.describe(error, server: url.description))")
        }
    }
}

private enum LeaseOutcome<T: Sendable>: Sendable {
    case value(T)
    case timedOut
    /// The timer ended without timing out (the lease came first, or the operation finished).
    case leased
}

private struct LeaseTimedOut: Error {}

/// Decides, exactly once, whether a connection lease or the timeout came first.
private final class LeaseRace: Sendable {
    private let state = Atomic<UInt8>(0)  // 0 waiting, 1 leased, 2 timed out

    func lease() -> Bool { state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged }
    func timeOut() -> Bool {
        state.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged
    }
}
