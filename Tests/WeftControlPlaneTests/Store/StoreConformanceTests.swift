import Foundation
import Testing
import WeftCore

@testable import WeftControlPlane

/// One suite for every `Store` backend: each test runs against SQLite and PostgreSQL, each time on a fresh database
/// (see `StoreFixture`). The PostgreSQL cases need `WEFT_TEST_POSTGRES_URL` (Scripts/test sets it) and fail without.
@Suite("StoreConformance", .timeLimit(.minutes(1)))
struct StoreConformanceTests {
    static let admin = AuditContext(actor: "admin-token:ops", action: "PUT /v1/services/backend")

    // MARK: Schema

    @Test(arguments: StoreBackend.allCases)
    func migratingTwiceIsHarmless(_ backend: StoreBackend) async throws {
        try await withStoreFixture(backend) { fixture, store async throws in
            try await store.apply([.put(.service, "backend", json(#"{"port":8080}"#))], audit: Self.admin)
            try await store.migrate()
            try await store.migrate()
            let other = try await fixture.open()  // migrates a third time, from another instance
            #expect(try await store.revision() == 1)
            #expect(try await other.revision() == 1)
            #expect(try await other.object(.service, "backend")?.body == json(#"{"port":8080}"#))
            #expect(try await other.auditEntries(afterID: 0, limit: 10).count == 1)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func refusesASchemaNewerThanSupported(_ backend: StoreBackend) async throws {
        try await withStoreFixture(backend) { fixture, store async throws in
            let newer = fixture.supportedSchemaVersion + 1
            try await fixture.recordSchemaVersion(newer, through: store)
            let upgraded = try await fixture.open(migrate: false)
            await #expect(throws: StoreError.schemaTooNew(found: newer, supported: fixture.supportedSchemaVersion)) {
                try await upgraded.migrate()
            }
            // Refusing changed nothing.
            #expect(try await store.revision() == 0)
        }
    }

    // MARK: Revisions and objects

    @Test(arguments: StoreBackend.allCases)
    func revisionStartsAtZeroAndEachNonEmptyApplyAddsOne(_ backend: StoreBackend) async throws {
        try await withStoreFixture(backend) { _, store async throws in
            #expect(try await store.revision() == 0)
            #expect(try await store.apply([], audit: Self.admin) == 0)

            #expect(try await store.apply([.put(.node, "n1", json(#"{"n":1}"#))], audit: Self.admin) == 1)
            let three: [ObjectChange] = [
                .put(.node, "n2", json(#"{"n":2}"#)),
                .put(.node, "n3", json(#"{"n":3}"#)),
                .put(.service, "s", json(#"{"s":1}"#)),
            ]
            #expect(try await store.apply(three, audit: nil) == 2)
            #expect(try await store.revision() == 2)
            #expect(try await store.apply([], audit: Self.admin) == 2)
            #expect(try await store.revision() == 2)
            #expect(try await store.auditEntries(afterID: 0, limit: 100).count == 1)  // the empty applies wrote none

            #expect(try await store.object(.node, "n1")?.revision == 1)
            #expect(try await store.object(.node, "n3")?.revision == 2)
            #expect(try await store.object(.service, "s")?.revision == 2)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func putGetListDelete(_ backend: StoreBackend) async throws {
        try await withStoreFixture(backend) { _, store async throws in
            // Keys that sort differently bytewise and by a natural-language collation.
            let keys = ["b", "B", "a-b", "a.b", "ab", "a", "Z", "é"]
            try await store.apply(
                keys.map { .put(.service, $0, json(#"{"name":"\#($0)"}"#)) } + [.put(.node, "a", json("{}"))],
                audit: Self.admin
            )

            #expect(
                try await store.object(.service, "a.b")
                    == StoredObject(
                        kind: .service, key: "a.b", body: json(#"{"name":"a.b"}"#), revision: 1))
            #expect(try await store.object(.service, "missing") == nil)
            #expect(try await store.object(.intention, "a") == nil)  // same key, other kind

            let listed = try await store.objects(.service)
            #expect(listed.map(\.key) == keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
            #expect(listed.map(\.key) == ["B", "Z", "a", "a-b", "a.b", "ab", "b", "é"])
            #expect(listed.allSatisfy { $0.kind == .service && $0.revision == 1 })
            #expect(try await store.objects(.node).map(\.key) == ["a"])
            #expect(try await store.objects(.intention).isEmpty)

            // Overwrite: new body, new revision.
            let revision = try await store.apply([.put(.service, "a", json(#"{"name":"a","v":2}"#))], audit: Self.admin)
            #expect(
                try await store.object(.service, "a")
                    == StoredObject(
                        kind: .service, key: "a", body: json(#"{"name":"a","v":2}"#), revision: revision))

            // Delete.
            try await store.apply([.delete(.service, "a"), .delete(.service, "B")], audit: Self.admin)
            #expect(try await store.object(.service, "a") == nil)
            #expect(try await store.objects(.service).map(\.key) == ["Z", "a-b", "a.b", "ab", "b", "é"])
            #expect(try await store.object(.node, "a") != nil)

            // Bodies come back byte for byte, whitespace and key order included.
            let odd = json("{ \"z\" : 1,\n  \"a\" : [ ] }")
            try await store.apply([.put(.settings, "mesh", odd)], audit: nil)
            #expect(try await store.object(.settings, "mesh")?.body == odd)
        }
    }

    // MARK: Preconditions

    @Test(arguments: StoreBackend.allCases)
    func preconditionsAbsentRevisionAndNone(_ backend: StoreBackend) async throws {
        try await withStoreFixture(backend) { _, store async throws in
            // absent: holds for a new key.
            let r1 = try await store.apply(
                [.put(.intention, "fe/be", json(#"{"allow":true}"#), precondition: .absent)], audit: Self.admin)
            #expect(r1 == 1)

            // absent on an existing key: conflict naming the actual revision, and nothing changes.
            try await expectUnchanged(store) {
                await #expect(throws: StoreError.conflict(kind: .intention, key: "fe/be", expected: .absent, actual: 1))
                {
                    try await store.apply(
                        [.put(.intention, "fe/be", json(#"{"allow":false}"#), precondition: .absent)], audit: Self.admin
                    )
                }
            }

            // revision: holds at exactly that revision.
            try await expectUnchanged(store) {
                await #expect(
                    throws: StoreError.conflict(kind: .intention, key: "fe/be", expected: .revision(7), actual: 1)
                ) {
                    try await store.apply(
                        [.put(.intention, "fe/be", json(#"{"allow":false}"#), precondition: .revision(7))],
                        audit: Self.admin)
                }
                await #expect(
                    throws: StoreError.conflict(kind: .intention, key: "x/y", expected: .revision(1), actual: nil)
                ) {
                    try await store.apply(
                        [.put(.intention, "x/y", json("{}"), precondition: .revision(1))], audit: Self.admin)
                }
                await #expect(
                    throws: StoreError.conflict(kind: .intention, key: "fe/be", expected: .revision(0), actual: 1)
                ) {
                    try await store.apply([.delete(.intention, "fe/be", precondition: .revision(0))], audit: Self.admin)
                }
            }
            let r2 = try await store.apply(
                [.put(.intention, "fe/be", json(#"{"allow":false}"#), precondition: .revision(1))], audit: Self.admin)
            #expect(r2 == 2)
            #expect(try await store.object(.intention, "fe/be")?.body == json(#"{"allow":false}"#))

            // none: holds whatever the state; deleting what is not there is fine and still a change.
            let r3 = try await store.apply([.put(.intention, "fe/be", json(#"{"allow":true}"#))], audit: Self.admin)
            #expect(r3 == 3)
            let r4 = try await store.apply([.delete(.intention, "never-existed")], audit: Self.admin)
            #expect(r4 == 4)
            #expect(try await store.object(.intention, "never-existed") == nil)

            // A delete guarded by the right revision.
            let r5 = try await store.apply(
                [.delete(.intention, "fe/be", precondition: .revision(3))], audit: Self.admin)
            #expect(r5 == 5)
            #expect(try await store.object(.intention, "fe/be") == nil)
            // absent holds again once deleted.
            #expect(
                try await store.apply([.put(.intention, "fe/be", json("{}"), precondition: .absent)], audit: nil) == 6)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func oneFailingPreconditionWritesNothing(_ backend: StoreBackend) async throws {
        try await withStoreFixture(backend) { _, store async throws in
            try await store.apply(
                [
                    .put(.service, "kept", json(#"{"v":1}"#)),
                    .put(.vipClaim, "240.0.0.7", json(#"{"service":"kept"}"#)),
                ],
                audit: Self.admin
            )
            try await expectUnchanged(store) {
                await #expect(
                    throws: StoreError.conflict(kind: .vipClaim, key: "240.0.0.7", expected: .absent, actual: 1)
                ) {
                    try await store.apply(
                        [
                            .put(.service, "new", json(#"{"v":1}"#), precondition: .absent),  // would hold
                            .put(.service, "kept", json(#"{"v":2}"#)),  // would hold
                            .delete(.service, "kept"),  // would hold
                            .put(.vipClaim, "240.0.0.7", json(#"{"service":"new"}"#), precondition: .absent),  // fails
                        ],
                        audit: Self.admin
                    )
                }
            }
            #expect(try await store.object(.service, "new") == nil)
            #expect(try await store.object(.service, "kept")?.body == json(#"{"v":1}"#))
            #expect(try await store.changes(since: 1).deletions.isEmpty)
        }
    }

    // MARK: Change feed

    @Test(arguments: StoreBackend.allCases)
    func changesSinceReturnsUpsertsAndTombstones(_ backend: StoreBackend) async throws {
        try await withStoreFixture(backend) { _, store async throws in
            try await store.apply([.put(.service, "a", json("1")), .put(.service, "b", json("1"))], audit: nil)  // 1
            try await store.apply([.put(.node, "n", json("1")), .put(.service, "c", json("1"))], audit: nil)  // 2
            try await store.apply([.delete(.service, "a"), .put(.service, "b", json("2"))], audit: nil)  // 3
            try await store.apply([.delete(.service, "c")], audit: nil)  // 4
            try await store.apply([.put(.service, "c", json("5"))], audit: nil)  // 5: re-created

            let all = try await store.changes(since: 0)
            #expect(all.revision == 5)
            #expect(all.deletions.isEmpty)
            #expect(Set(all.upserts.map(\.key)) == ["b", "n", "c"])
            #expect(all.upserts.map(\.revision) == all.upserts.map(\.revision).sorted())

            let since1 = try await store.changes(since: 1)
            #expect(since1.revision == 5)
            #expect(
                since1.upserts == [
                    StoredObject(kind: .node, key: "n", body: json("1"), revision: 2),
                    StoredObject(kind: .service, key: "b", body: json("2"), revision: 3),
                    StoredObject(kind: .service, key: "c", body: json("5"), revision: 5),
                ])
            // "c" was deleted at 4 but exists again: an upsert, not a deletion.
            #expect(since1.deletions == [ChangeFeed.Deletion(kind: .service, key: "a", revision: 3)])

            let since3 = try await store.changes(since: 3)
            #expect(since3.upserts.map(\.key) == ["c"])
            #expect(since3.deletions.isEmpty)

            try await store.apply([.delete(.service, "c"), .delete(.node, "n")], audit: nil)  // 6
            let since5 = try await store.changes(since: 5)
            #expect(since5.revision == 6)
            #expect(since5.upserts.isEmpty)
            #expect(
                Set(since5.deletions) == [
                    ChangeFeed.Deletion(kind: .service, key: "c", revision: 6),
                    ChangeFeed.Deletion(kind: .node, key: "n", revision: 6),
                ])

            let current = try await store.changes(since: 6)
            #expect(current == ChangeFeed(revision: 6, upserts: [], deletions: []))
        }
    }

    // MARK: Audit

    @Test(arguments: StoreBackend.allCases)
    func auditRecordsActorActionBeforeAndAfter(_ backend: StoreBackend) async throws {
        try await withStoreFixture(backend) { _, store async throws in
            let started = Date()
            let create = AuditContext(actor: "admin-token:alice", action: "PUT /v1/services/backend")
            let update = AuditContext(actor: "node:host-a", action: "PATCH /v1/services/backend")
            let remove = AuditContext(actor: "admin-token:bob", action: "DELETE /v1/services/backend")
            try await store.apply([.put(.service, "backend", json(#"{"v":1}"#))], audit: create)
            try await store.apply([.put(.service, "backend", json(#"{"v":2}"#))], audit: update)
            try await store.apply([.put(.service, "quiet", json("{}"))], audit: nil)  // no audit asked: none written
            try await store.apply([.delete(.service, "backend"), .delete(.service, "ghost")], audit: remove)

            let entries = try await store.auditEntries(afterID: 0, limit: 100)
            try #require(entries.count == 4)
            #expect(entries.map(\.id) == entries.map(\.id).sorted())
            #expect(Set(entries.map(\.id)).count == 4)
            #expect(entries.map(\.revision) == [1, 2, 4, 4])
            #expect(entries.allSatisfy { $0.kind == "service" })
            #expect(
                entries.allSatisfy {
                    $0.time >= started.addingTimeInterval(-1) && $0.time <= Date().addingTimeInterval(1)
                })

            #expect(entries[0].actor == "admin-token:alice")
            #expect(entries[0].action == "PUT /v1/services/backend")
            #expect(entries[0].key == "backend")
            #expect(entries[0].before == nil)
            #expect(entries[0].after == #"{"v":1}"#)

            #expect(entries[1].actor == "node:host-a")
            #expect(entries[1].before == #"{"v":1}"#)
            #expect(entries[1].after == #"{"v":2}"#)

            #expect(entries[2].actor == "admin-token:bob")
            #expect(entries[2].action == "DELETE /v1/services/backend")
            #expect(entries[2].before == #"{"v":2}"#)
            #expect(entries[2].after == nil)
            #expect(entries[3].key == "ghost")
            #expect(entries[3].before == nil && entries[3].after == nil)

            // Paging.
            let firstTwo = try await store.auditEntries(afterID: 0, limit: 2)
            #expect(firstTwo == Array(entries.prefix(2)))
            let rest = try await store.auditEntries(afterID: firstTwo.last!.id, limit: 10)
            #expect(rest == Array(entries.suffix(2)))
            #expect(try await store.auditEntries(afterID: entries.last!.id, limit: 10).isEmpty)
            #expect(try await store.auditEntries(afterID: 0, limit: 0).isEmpty)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func auditRedactsCertificateAuthorityBodies(_ backend: StoreBackend) async throws {
        try await withStoreFixture(backend) { _, store async throws in
            let secret1 = json(#"{"key":"-----BEGIN PRIVATE KEY----- one"}"#)
            let secret2 = json(#"{"key":"-----BEGIN PRIVATE KEY----- two"}"#)
            try await store.apply([.put(.certificateAuthority, "root", secret1)], audit: Self.admin)
            try await store.apply([.put(.certificateAuthority, "root", secret2)], audit: Self.admin)
            try await store.apply([.delete(.certificateAuthority, "root")], audit: Self.admin)

            let entries = try await store.auditEntries(afterID: 0, limit: 10)
            try #require(entries.count == 3)
            #expect(entries.map(\.before) == [nil, AuditEntry.redactedMarker, AuditEntry.redactedMarker])
            #expect(entries.map(\.after) == [AuditEntry.redactedMarker, AuditEntry.redactedMarker, nil])
            #expect(
                entries.allSatisfy { !($0.before ?? "").contains("PRIVATE") && !($0.after ?? "").contains("PRIVATE") })
            #expect(AuditEntry.redactedMarker == "[redacted]")
        }
    }

    // MARK: Heartbeats

    @Test(arguments: StoreBackend.allCases)
    func heartbeatsAreStoredWithoutBumpingTheRevision(_ backend: StoreBackend) async throws {
        try await withStoreFixture(backend) { _, store async throws in
            try await store.apply([.put(.node, "host-a", json("{}"))], audit: nil)
            let recorder = RevisionRecorder(store.notifications())

            let t1 = Date(timeIntervalSince1970: 1_750_000_000.125)
            let t2 = Date(timeIntervalSince1970: 1_750_000_042.5)
            try await store.recordHeartbeats(["host-a": t1, "host-b": t1])
            try await store.recordHeartbeats([:])
            try await store.recordHeartbeats(["host-b": t2, "host-c": t2])

            let seen = try await store.heartbeats()
            #expect(Set(seen.keys) == ["host-a", "host-b", "host-c"])
            #expect(abs(seen["host-a"]!.timeIntervalSince(t1)) < 0.001)
            #expect(abs(seen["host-b"]!.timeIntervalSince(t2)) < 0.001)
            #expect(abs(seen["host-c"]!.timeIntervalSince(t2)) < 0.001)

            #expect(try await store.revision() == 1)
            #expect(try await store.changes(since: 1).upserts.isEmpty)
            #expect(try await store.auditEntries(afterID: 0, limit: 10).isEmpty)
            try await Task.sleep(for: .milliseconds(200))
            #expect(recorder.values.isEmpty)
        }
    }

    // MARK: Notifications

    @Test(arguments: StoreBackend.allCases)
    func notificationsFollowLocalWrites(_ backend: StoreBackend) async throws {
        try await withStoreFixture(backend) { _, store async throws in
            let first = RevisionRecorder(store.notifications())
            let second = RevisionRecorder(store.notifications())

            let r1 = try await store.apply([.put(.service, "a", json("{}"))], audit: nil)
            #expect(await first.waitFor(atLeast: r1))
            #expect(await second.waitFor(atLeast: r1))

            // Neither an empty apply nor a conflict commits anything, so neither notifies.
            try await store.apply([], audit: nil)
            await #expect(throws: StoreError.self) {
                try await store.apply([.put(.service, "a", json("{}"), precondition: .absent)], audit: nil)
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(first.values == [r1])

            let r2 = try await store.apply([.delete(.service, "a")], audit: nil)
            #expect(await first.waitFor(atLeast: r2))
            #expect(first.values == [r1, r2])

            // A stream subscribed later sees only what comes after it.
            let late = RevisionRecorder(store.notifications())
            let r3 = try await store.apply([.put(.service, "b", json("{}"))], audit: nil)
            #expect(await late.waitFor(atLeast: r3))
            #expect(late.values == [r3])

            // Closing ends every stream.
            await store.close()
            #expect(await first.waitForEnd())
            #expect(await late.waitForEnd())
        }
    }

    // MARK: Persistence

    @Test(arguments: StoreBackend.allCases)
    func reopeningKeepsAllState(_ backend: StoreBackend) async throws {
        try await withStoreFixture(backend) { fixture, store async throws in
            try await store.apply(
                [.put(.service, "a", json(#"{"a":1}"#)), .put(.node, "n", json(#"{"n":1}"#))], audit: Self.admin
            )
            try await store.apply([.delete(.service, "a"), .put(.service, "b", json(#"{"b":1}"#))], audit: Self.admin)
            let seen = Date(timeIntervalSince1970: 1_760_000_000)
            try await store.recordHeartbeats(["n": seen])
            let changes = try await store.changes(since: 1)
            let audit = try await store.auditEntries(afterID: 0, limit: 100)
            await store.close()

            let reopened = try await fixture.open()
            #expect(try await reopened.revision() == 2)
            #expect(try await reopened.objects(.service).map(\.key) == ["b"])
            #expect(try await reopened.object(.node, "n")?.body == json(#"{"n":1}"#))
            #expect(try await reopened.changes(since: 1) == changes)
            #expect(try await reopened.auditEntries(afterID: 0, limit: 100) == audit)
            #expect(abs(try await reopened.heartbeats()["n"]!.timeIntervalSince(seen)) < 0.001)

            // The revision and the audit ids carry on where they were.
            #expect(try await reopened.apply([.put(.service, "c", json("{}"))], audit: Self.admin) == 3)
            let last = try await reopened.auditEntries(afterID: audit.last!.id, limit: 10)
            #expect(last.count == 1)
            #expect(last.first?.revision == 3)
        }
    }

    @Test
    func sqliteCreatesAPrivateDirectoryAndFile() async throws {
        try await withStoreFixture(.sqlite) { fixture, store async throws in
            let path = try #require(fixture.sqlitePath)
            let fileMode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(fileMode == 0o600)
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
            for dir in [directory, directory.deletingLastPathComponent()] {
                let mode = try FileManager.default.attributesOfItem(atPath: dir.path)[.posixPermissions] as? Int
                #expect(mode == 0o700, "\(dir.path)")
            }
            // WAL mode: the write-ahead log sits next to the database.
            try await store.apply([.put(.service, "a", json("{}"))], audit: nil)
            #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        }
    }

    // MARK: PostgreSQL: several weftd on one database

    @Test
    func postgresWriteThroughOneInstanceNotifiesAndIsReadByAnother() async throws {
        try await withStoreFixture(.postgres) { fixture, a async throws in
            let b = try await fixture.open()
            let heardByB = RevisionRecorder(b.notifications())
            let heardByA = RevisionRecorder(a.notifications())

            let r1 = try await a.apply([.put(.service, "from-a", json(#"{"by":"a"}"#))], audit: Self.admin)
            #expect(await heardByB.waitFor(atLeast: r1, within: .seconds(1)))
            #expect(try await b.object(.service, "from-a")?.body == json(#"{"by":"a"}"#))
            #expect(try await b.changes(since: 0).revision == r1)

            let r2 = try await b.apply([.put(.service, "from-b", json(#"{"by":"b"}"#))], audit: Self.admin)
            #expect(await heardByA.waitFor(atLeast: r2, within: .seconds(1)))
            #expect(try await a.object(.service, "from-b")?.revision == r2)
            // A hears its own commit once, not again through LISTEN.
            try await Task.sleep(for: .milliseconds(200))
            #expect(heardByA.values == [r1, r2])
        }
    }

    @Test
    func postgresConcurrentAbsentPutsFromTwoInstancesLetExactlyOneWin() async throws {
        try await withStoreFixture(.postgres) { fixture, a async throws in
            let b = try await fixture.open()
            let keys = (0..<10).map { "240.0.0.\($0)" }

            let results = await withTaskGroup(of: (String, String, Result<Int64, StoreError>).self) { group in
                for key in keys {
                    for (name, store) in [("a", a), ("b", b)] {
                        group.addTask {
                            do throws(StoreError) {
                                let revision = try await store.apply(
                                    [.put(.vipClaim, key, json(#"{"by":"\#(name)"}"#), precondition: .absent)],
                                    audit: AuditContext(actor: name, action: "claim \(key)")
                                )
                                return (key, name, .success(revision))
                            } catch {
                                return (key, name, .failure(error))
                            }
                        }
                    }
                }
                var results: [(String, String, Result<Int64, StoreError>)] = []
                for await result in group { results.append(result) }
                return results
            }

            var winners: [String: (name: String, revision: Int64)] = [:]
            for key in keys {
                let outcomes = results.filter { $0.0 == key }
                try #require(outcomes.count == 2)
                let won = outcomes.compactMap { outcome -> (String, Int64)? in
                    if case .success(let revision) = outcome.2 { return (outcome.1, revision) } else { return nil }
                }
                try #require(won.count == 1, "key \(key): \(outcomes)")
                winners[key] = won[0]
                let lost = try #require(outcomes.first { $0.1 != won[0].0 })
                #expect(lost.2 == .failure(.conflict(kind: .vipClaim, key: key, expected: .absent, actual: won[0].1)))
            }

            // The losers' transactions rolled back entirely: one revision and one audit entry per winner.
            #expect(try await a.revision() == Int64(keys.count))
            #expect(Set(winners.values.map(\.revision)) == Set(1...Int64(keys.count)))
            for (key, winner) in winners {
                let stored = try await b.object(.vipClaim, key)
                #expect(stored?.body == json(#"{"by":"\#(winner.name)"}"#))
                #expect(stored?.revision == winner.revision)
            }
            let audit = try await a.auditEntries(afterID: 0, limit: 100)
            #expect(audit.count == keys.count)
            #expect(audit.map(\.revision) == audit.map(\.revision).sorted())
        }
    }

    @Test
    func postgresListenerReconnectsAndReportsTheCurrentRevision() async throws {
        try await withStoreFixture(.postgres) { fixture, a async throws in
            let b = try await fixture.open()
            let heardByB = RevisionRecorder(b.notifications())
            let r1 = try await a.apply([.put(.service, "one", json("{}"))], audit: nil)
            #expect(await heardByB.waitFor(atLeast: r1))

            // Cut every LISTEN session and write at once: the write normally lands before B is back (its first retry
            // waits 0.1 s), so only the revision B reads after reconnecting tells it.
            #expect(try await fixture.terminateListeners() == 2)  // A's and B's
            let r2 = try await a.apply([.put(.service, "two", json("{}"))], audit: nil)
            #expect(await heardByB.waitFor(atLeast: r2, within: .seconds(5)))

            // And it listens again afterwards.
            let r3 = try await a.apply([.put(.service, "three", json("{}"))], audit: nil)
            #expect(await heardByB.waitFor(atLeast: r3, within: .seconds(5)))
        }
    }

    @Test
    func postgresConnectionErrorsAreUnavailableWithTheServersMessage() async throws {
        let server = try StoreFixture.postgresServerURL()

        let missing = try PostgresStore(url: server.withDatabase("weft_no_such_database"), timeout: .seconds(2))
        let missingError = await #expect(throws: StoreError.self) { try await missing.migrate() }
        await missing.close()
        guard case .unavailable(let message) = missingError else {
            Issue.record("expected .unavailable, got \(String(describing: missingError))")
            return
        }
        #expect(message.contains("weft_no_such_database"))
        #expect(message.contains("does not exist"))

        // Not migrated, so the pool path: the timeout, then the reason from a direct attempt.
        let unmigrated = try PostgresStore(
            url: server.withDatabase("weft_no_such_database"), timeout: .milliseconds(500))
        let poolError = await #expect(throws: StoreError.self) { try await unmigrated.revision() }
        await unmigrated.close()
        #expect(poolError.map { "\($0)" }?.contains("does not exist") == true)

        // Nobody listening on the port.
        let closed = try PostgresStore(
            url: PostgresURL(endpoint: .tcp(host: "127.0.0.1", port: 1), username: "postgres", database: "weft"),
            timeout: .seconds(2)
        )
        let closedError = await #expect(throws: StoreError.self) { try await closed.migrate() }
        await closed.close()
        guard case .unavailable(let reason) = closedError else {
            Issue.record("expected .unavailable, got \(String(describing: closedError))")
            return
        }
        #expect(reason.contains("127.0.0.1:1"))
    }

    // MARK: Helpers

    /// Runs `body` and expects revision, objects, change feed and audit log to be exactly as before.
    private func expectUnchanged(
        _ store: any Store, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
    ) async throws {
        let revision = try await store.revision()
        let feed = try await store.changes(since: 0)
        let tombstones = try await store.changes(since: 1).deletions
        let audit = try await store.auditEntries(afterID: 0, limit: 1000)
        try await body()
        #expect(try await store.revision() == revision, sourceLocation: sourceLocation)
        #expect(try await store.changes(since: 0) == feed, sourceLocation: sourceLocation)
        #expect(try await store.changes(since: 1).deletions == tombstones, sourceLocation: sourceLocation)
        #expect(try await store.auditEntries(afterID: 0, limit: 1000) == audit, sourceLocation: sourceLocation)
    }
}

private func json(_ text: String) -> Data { Data(text.utf8) }
