import Logging
import PostgresNIO

/// The PostgreSQL schema: numbered migrations recorded in `schema_migrations`, applied in one transaction under an
/// advisory lock so that several `weftd` starting together migrate once and in order.
enum PostgresSchema {
    struct Migration: Sendable {
        var version: Int
        /// One statement each (the extended query protocol takes one at a time).
        var statements: [String]
    }

    /// `pg_advisory_xact_lock` key for migrations: "weft" in ASCII. Advisory locks are per database.
    static let migrationLockKey: Int64 = 0x7765_6674

    static var supportedVersion: Int { migrations.last?.version ?? 0 }

    static let migrations: [Migration] = [
        Migration(
            version: 1,
            statements: [
                """
                CREATE TABLE meta (
                    id INT PRIMARY KEY CHECK (id = 1),
                    revision BIGINT NOT NULL
                )
                """,
                "INSERT INTO meta (id, revision) VALUES (1, 0)",
                // Keys compare bytewise (COLLATE "C"), as in SQLite, whatever the database's locale: `objects(kind)`
                // lists in the same order on both backends.
                """
                CREATE TABLE objects (
                    kind TEXT COLLATE "C" NOT NULL,
                    key TEXT COLLATE "C" NOT NULL,
                    body BYTEA NOT NULL,
                    revision BIGINT NOT NULL,
                    PRIMARY KEY (kind, key)
                )
                """,
                "CREATE INDEX objects_revision ON objects (revision)",
                """
                CREATE TABLE tombstones (
                    kind TEXT COLLATE "C" NOT NULL,
                    key TEXT COLLATE "C" NOT NULL,
                    revision BIGINT NOT NULL,
                    PRIMARY KEY (kind, key)
                )
                """,
                "CREATE INDEX tombstones_revision ON tombstones (revision)",
                """
                CREATE TABLE audit (
                    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    revision BIGINT NOT NULL,
                    time TIMESTAMPTZ NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    key TEXT NOT NULL,
                    before TEXT,
                    after TEXT
                )
                """,
                "CREATE INDEX audit_revision ON audit (revision)",
                """
                CREATE TABLE heartbeats (
                    node TEXT PRIMARY KEY,
                    last_seen TIMESTAMPTZ NOT NULL
                )
                """,
            ]
        )
    ]

    /// Brings the database up to `supportedVersion`, or refuses one that is newer. Runs in one transaction on
    /// `connection`; another process migrating at the same time waits for the advisory lock, then finds the work done.
    static func migrate(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("BEGIN", logger: logger)
        do {
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLockKey))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INT PRIMARY KEY,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )
                """,
                logger: logger
            )
            let rows = try await connection.query(
                "SELECT coalesce(max(version), 0)::INT8 FROM schema_migrations", logger: logger
            )
            var current = 0
            for try await version in rows.decode(Int64.self) {
                current = Int(version)
            }
            if current > supportedVersion {
                throw StoreError.schemaTooNew(found: current, supported: supportedVersion)
            }
            for migration in migrations where migration.version > current {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (version) VALUES (\(migration.version))", logger: logger
                )
            }
            try await connection.query("COMMIT", logger: logger)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }
}
