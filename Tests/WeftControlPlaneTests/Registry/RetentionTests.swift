import Foundation
import Logging
import Testing
import WeftCore
import WeftIdentity

@testable import WeftControlPlane

/// Pruning on both store backends, at fixed times: certificate records a day after expiry, revocations never
/// before their certificate expired, audit entries after `audit_retention`.
@Suite("Retention", .serialized)
struct RetentionTests {
    static let now = Date(timeIntervalSince1970: 1_900_000_000)
    static let hour: TimeInterval = 3600
    static let day: TimeInterval = 86_400

    static func withRetention(
        _ backend: StoreBackend, auditRetention: Duration? = Retention.defaultAuditRetention,
        _ body: (Retention, any Store) async throws -> Void
    ) async throws {
        try await withStoreFixture(backend) { _, store in
            let registry = Registry(
                store: store, authority: RegistryTests.authority, configuration: RegistryConfiguration(),
                now: { Self.now })
            try await body(Retention(registry: registry, auditRetention: auditRetention), store)
        }
    }

    static func issued(_ serial: String, expiresIn seconds: TimeInterval) -> ObjectChange {
        let notAfter = now + seconds
        return .put(
            .issuedCertificate, serial,
            StoredCoding.encode(
                IssuedCertificateRecord(
                    serialNumber: serial, identity: "spiffe://weft.local/ns/default/svc/a", node: "host-a",
                    notBefore: notAfter - day, notAfter: notAfter)))
    }

    static func revoked(_ serial: String, expiresIn seconds: TimeInterval) -> ObjectChange {
        .put(
            .revokedCertificate, serial,
            StoredCoding.encode(
                RevokedCertificate(
                    serialNumber: serial, identity: "spiffe://weft.local/ns/default/svc/a", node: "host-a",
                    notAfter: now + seconds, revokedAt: now - 30 * day, revokedBy: "admin", reason: .revokedByAdmin)))
    }

    @Test(arguments: StoreBackend.allCases)
    func certificateRecordsGoADayAfterExpiryAndRevocationsNeverBefore(_ backend: StoreBackend) async throws {
        try await Self.withRetention(backend, auditRetention: nil) { retention, store in
            try await store.apply(
                [
                    Self.issued("a1", expiresIn: -25 * Self.hour),
                    Self.issued("a2", expiresIn: -23 * Self.hour),
                    Self.issued("a3", expiresIn: 12 * Self.hour),
                    Self.revoked("b1", expiresIn: -25 * Self.hour),
                    Self.revoked("b2", expiresIn: -1 * Self.hour),
                    Self.revoked("b3", expiresIn: 300 * Self.day),
                    .put(.issuedCertificate, "c1", Data(#"{"not_after": "someday"}"#.utf8)),
                ],
                audit: nil)

            let report = try await retention.prune(now: Self.now)
            #expect(report.certificateRecords == 2)
            #expect(try await store.objects(.issuedCertificate).map(\.key) == ["a2", "a3", "c1"])
            #expect(
                try await store.objects(.revokedCertificate).map(\.key) == ["b2", "b3"],
                "a revocation stays while its certificate is valid, long after it was revoked")
            let audit = try await store.auditEntries(afterID: 0, limit: 10)
            #expect(Set(audit.map(\.key)) == ["a1", "b1"], "pruning is audited")
            #expect(audit.allSatisfy { $0.actor == "weftd" && $0.after == nil })

            #expect(try await retention.prune(now: Self.now).certificateRecords == 0, "nothing twice")
            #expect(
                try await retention.prune(now: Self.now + 30 * Self.hour).certificateRecords == 2, "a2 and b2 later")
            #expect(try await store.objects(.issuedCertificate).map(\.key) == ["a3", "c1"])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func auditEntriesGoAfterTheRetention(_ backend: StoreBackend) async throws {
        try await Self.withRetention(backend, auditRetention: .seconds(90 * 86_400)) { retention, store in
            let written = Date()
            for index in 0..<3 {
                try await store.apply(
                    [.put(.intention, "i\(index)", Data("{}".utf8))], audit: AuditContext(actor: "t", action: "put"))
            }
            #expect(try await retention.prune(now: written + 89 * Self.day).auditEntries == 0)
            #expect(try await store.auditEntries(afterID: 0, limit: 10).count == 3)
            #expect(try await retention.prune(now: written + 91 * Self.day).auditEntries == 3)
            #expect(try await store.auditEntries(afterID: 0, limit: 10).isEmpty)
            #expect(try await store.objects(.intention).count == 3, "only the audit log is pruned")
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func auditRetentionForeverKeepsEverything(_ backend: StoreBackend) async throws {
        try await Self.withRetention(backend, auditRetention: nil) { retention, store in
            try await store.apply(
                [.put(.intention, "i", Data("{}".utf8))], audit: AuditContext(actor: "t", action: "put"))
            #expect(try await retention.prune(now: Date() + 10_000 * Self.day).auditEntries == 0)
            #expect(try await store.auditEntries(afterID: 0, limit: 10).count == 1)
        }
    }

    @Test func theServicePrunesOnceAtStart() async throws {
        try await Self.withRetention(.sqlite) { retention, store in
            try await store.apply([Self.issued("old", expiresIn: -2 * Self.day)], audit: nil)
            let service = RetentionService(
                retention: retention, interval: .seconds(3600), logger: Logger(label: "test"), now: { Self.now })
            let task = Task { try await service.run() }
            defer { task.cancel() }
            let deadline = ContinuousClock.now + .seconds(10)
            while try await store.object(.issuedCertificate, "old") != nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(try await store.object(.issuedCertificate, "old") == nil)
            task.cancel()
            try await task.value
        }
    }

    @Test(arguments: [
        ("30d", Duration?.some(.seconds(30 * 86_400))), ("forever", nil), ("0", nil), ("2h", .seconds(7200)),
    ])
    func auditRetentionSetting(text: String, expected: Duration?) throws {
        var configuration = ControlPlaneConfiguration()
        #expect(configuration.auditRetention == .seconds(90 * 86_400), "the default")
        try configuration.apply(toml: "audit_retention = \"\(text)\"", path: "weftd.toml")
        #expect(configuration.auditRetention == expected)
        try configuration.validate()
    }

    @Test func aBadAuditRetentionIsRefused() throws {
        var configuration = ControlPlaneConfiguration()
        #expect(throws: SettingsError.self) {
            try configuration.apply(toml: #"audit_retention = "a while""#, path: "weftd.toml")
        }
        #expect(configuration.auditRetention == Retention.defaultAuditRetention, "a refused setting changes nothing")
        configuration.auditRetention = .seconds(60)
        #expect { try configuration.validate() } throws: { "\($0)".contains("audit_retention") }
    }
}
