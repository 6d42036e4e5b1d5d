import Foundation
import Synchronization
import Testing

@testable import WeftControlPlane

/// The store backends the conformance suite runs against.
enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }
}

enum StoreFixtureError: Error, CustomStringConvertible {
    case postgresNotConfigured

    var description: String {
        switch self {
        case .postgresNotConfigured:
            return """
                WEFT_TEST_POSTGRES_URL is not set, so the PostgreSQL store cannot be tested. Run the tests through \
                Scripts/test (it starts a throwaway server), or start one yourself: \
                `export WEFT_TEST_POSTGRES_URL=$(Scripts/postgres start /tmp/weft-pg-dev)` (and later \
                `Scripts/postgres stop /tmp/weft-pg-dev`).
                """
        }
    }
}

/// One fresh, empty database for one test — a SQLite file in a new temporary directory, or a new PostgreSQL database
/// `weft_<random>` on the server named by `WEFT_TEST_POSTGRES_URL` — and every store instance the test opens on it.
/// `tearDown()` closes them all and removes the database.
final class StoreFixture: Sendable {
    private enum Location: Sendable {
        case sqlite(directory: URL, path: String)
        case postgres(admin: PostgresStore, url: PostgresURL, database: String)
    }

    let backend: StoreBackend
    private let location: Location
    private let opened = Mutex<[any Store]>([])

    private init(backend: StoreBackend, location: Location) {
        self.backend = backend
        self.location = location
    }

    static func make(_ backend: StoreBackend) async throws -> StoreFixture {
        switch backend {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("weft-store-test-\(UUID().uuidString)")
            // Two levels that do not exist yet: the store creates them.
            let path = directory.appendingPathComponent("state/db/weft.sqlite").path
            return StoreFixture(backend: backend, location: .sqlite(directory: directory, path: path))
        case .postgres:
            let server = try postgresServerURL()
            let admin = try PostgresStore(url: server, timeout: .seconds(10))
            let database = "weft_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            do {
                // A natural-language collation where the server has ICU, so that ordering by key must not depend on
                // the database's locale (the store compares keys bytewise, as SQLite does).
                do {
                    try await admin.executeForTesting(
                        "CREATE DATABASE \(database) TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
                    )
                } catch {
                    try await admin.executeForTesting("CREATE DATABASE \(database)")
                }
            } catch {
                await admin.close()
                throw error
            }
            return StoreFixture(
                backend: backend,
                location: .postgres(admin: admin, url: server.withDatabase(database), database: database)
            )
        }
    }

    static func postgresServerURL() throws -> PostgresURL {
        guard let url = ProcessInfo.processInfo.environment["WEFT_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw StoreFixtureError.postgresNotConfigured
        }
        return try PostgresURL(url)
    }

    /// A new store instance on this fixture's database (for PostgreSQL: a new client with its own connections),
    /// migrated unless told otherwise.
    func open(migrate: Bool = true) async throws -> any Store {
        let store: any Store
        switch location {
        case .sqlite(_, let path):
            store = try SQLiteStore(path: path)
        case .postgres(_, let url, _):
            store = try PostgresStore(url: url, timeout: .seconds(10))
        }
        opened.withLock { $0.append(store) }
        if migrate {
            try await store.migrate()
        }
        return store
    }

    var supportedSchemaVersion: Int {
        switch backend {
        case .sqlite: SQLiteStore.supportedSchemaVersion
        case .postgres: PostgresStore.supportedSchemaVersion
        }
    }

    var sqlitePath: String? {
        if case .sqlite(_, let path) = location { path } else { nil }
    }

    /// Records `version` as applied, as a newer weftd would have.
    func recordSchemaVersion(_ version: Int, through store: any Store) async throws {
        switch store {
        case let store as SQLiteStore:
            try await store.executeForTesting("INSERT INTO grdb_migrations (identifier) VALUES ('v\(version)')")
        case let store as PostgresStore:
            try await store.executeForTesting("INSERT INTO schema_migrations (version) VALUES (\(version))")
        default:
            Issue.record("unknown store type \(type(of: store))")
        }
    }

    /// Ends every LISTEN session on this fixture's PostgreSQL database, as a server restart or a network cut would;
    /// returns how many it ended.
    func terminateListeners() async throws -> Int {
        guard case .postgres(let admin, _, let database) = location else { return 0 }
        let ended = try await admin.int64sForTesting(
            """
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE datname = '\(database)' AND application_name LIKE '% listen'
            """
        )
        return Int(ended.first ?? 0)
    }

    func tearDown() async {
        let stores = opened.withLock { stores in
            defer { stores = [] }
            return stores
        }
        for store in stores {
            await store.close()
        }
        switch location {
        case .sqlite(let directory, _):
            try? FileManager.default.removeItem(at: directory)
        case .postgres(let admin, _, let database):
            do {
                try await admin.executeForTesting("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
            } catch {
                Issue.record("dropping the test database \(database): \(error)")
            }
            await admin.close()
        }
    }
}

/// Runs `body` with a fixture and a first, migrated store on it; tears the fixture down afterwards, also on failure.
func withStoreFixture(
    _ backend: StoreBackend, _ body: (StoreFixture, any Store) async throws -> Void
) async throws {
    let fixture = try await StoreFixture.make(backend)
    do {
        let store = try await fixture.open()
        try await body(fixture, store)
    } catch {
        await fixture.tearDown()
        throw error
    }
    await fixture.tearDown()
}

/// Collects what a notification stream yields, in the background, so a test can wait for a value (or for a quiet
/// period) without giving up the stream.
final class RevisionRecorder: Sendable {
    private final class Shared: Sendable {
        struct State {
            var values: [Int64] = []
            var finished = false
        }
        let state = Mutex(State())
    }

    private let shared = Shared()
    private let task: Task<Void, Never>

    init(_ stream: AsyncStream<Int64>) {
        let shared = self.shared
        task = Task {
            for await revision in stream {
                shared.state.withLock { $0.values.append(revision) }
            }
            shared.state.withLock { $0.finished = true }
        }
    }

    deinit { task.cancel() }

    var values: [Int64] { shared.state.withLock { $0.values } }
    var isFinished: Bool { shared.state.withLock { $0.finished } }

    /// Waits until some yielded revision is at least `revision`; false when none is within `limit`.
    func waitFor(atLeast revision: Int64, within limit: Duration = .seconds(1)) async -> Bool {
        await waitUntil(within: limit) { $0.values.contains { $0 >= revision } }
    }

    /// Waits until the stream has ended; false when it has not within `limit`.
    func waitForEnd(within limit: Duration = .seconds(1)) async -> Bool {
        await waitUntil(within: limit) { $0.finished }
    }

    private func waitUntil(within limit: Duration, _ condition: (Shared.State) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if shared.state.withLock({ condition($0) }) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return shared.state.withLock { condition($0) }
    }
}
