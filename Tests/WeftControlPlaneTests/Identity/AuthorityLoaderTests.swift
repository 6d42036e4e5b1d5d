import Crypto
import Foundation
import Testing
import WeftCore
import WeftIdentity

@testable import WeftControlPlane

#if canImport(Glibc)
    import Glibc
#endif

/// The generated mesh CA's private key is sealed in the store under a key-encryption key from a file, and a key
/// that cannot be opened stops the start without replacing the CA.
@Suite("Mesh CA key sealing", .serialized)
struct AuthorityLoaderTests {
    static let trustDomain = "weft.local"

    /// A new directory for key files, removed after `body`.
    static func withDirectory(_ body: (String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("weft-kek-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await body(directory)
    }

    static func load(_ store: any Store, _ keyFile: AuthorityLoader.KeyFile) async throws -> CertificateAuthority {
        try await AuthorityLoader.load(trustDomain: trustDomain, files: nil, keyFile: keyFile, store: store)
    }

    static func record(_ store: any Store) async throws -> StoredObject {
        try #require(try await store.object(.certificateAuthority, AuthorityLoader.key))
    }

    static func writeKey(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws {
        try? FileManager.default.removeItem(atPath: path)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(chmod(path, mode) == 0)
    }

    static func randomKey() -> [UInt8] { (0..<32).map { _ in UInt8.random(in: 0...255) } }

    /// Expects `load` to fail with an error whose text contains every one of `fragments`, and the CA record to be
    /// exactly as before.
    static func expectRefusal(
        _ store: any Store, _ keyFile: AuthorityLoader.KeyFile, mentioning fragments: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let before = try await store.object(.certificateAuthority, AuthorityLoader.key)
        do {
            _ = try await load(store, keyFile)
            Issue.record("loading the CA succeeded", sourceLocation: sourceLocation)
        } catch {
            for fragment in fragments {
                #expect("\(error)".contains(fragment), "\(error)", sourceLocation: sourceLocation)
            }
        }
        #expect(
            try await store.object(.certificateAuthority, AuthorityLoader.key) == before,
            "a refused start changes nothing", sourceLocation: sourceLocation)
    }

    @Test(arguments: StoreBackend.allCases)
    func aGeneratedCAIsStoredWithItsKeySealedAndLoadsAgain(_ backend: StoreBackend) async throws {
        try await Self.withDirectory { directory in
            try await withStoreFixture(backend) { _, store in
                let keyFile = AuthorityLoader.KeyFile(path: directory + "/ca-kek", mayCreate: true)
                let generated = try await Self.load(store, keyFile)

                var status = stat()
                #expect(stat(keyFile.path, &status) == 0)
                #expect(status.st_mode & 0o777 == 0o600, "the key file is the owner's only")
                #expect(status.st_size == 32)

                let body = String(decoding: try await Self.record(store).body, as: UTF8.self)
                #expect(!body.contains("PRIVATE KEY"), "no plaintext key in the store")
                #expect(!body.contains("private_key_pem"))
                let stored = try StoredCoding.decode(StoredAuthority.self, from: try await Self.record(store))
                let sealed = try #require(stored.sealedPrivateKey)
                #expect(sealed.version == 1)
                #expect(sealed.keyID == (try KeyEncryptionKey.read(path: keyFile.path)).id)
                #expect(Data(base64Encoded: sealed.sealedBox) != nil)

                let loaded = try await Self.load(store, keyFile)
                #expect(loaded.trustBundleFingerprint == generated.trustBundleFingerprint)
                #expect(loaded.privateKeyPEM == generated.privateKeyPEM)
            }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aPlaintextKeyFromAnOlderWeftdIsSealedOnTheFirstStart(_ backend: StoreBackend) async throws {
        try await Self.withDirectory { directory in
            try await withStoreFixture(backend) { _, store in
                let old = try CertificateAuthority.generateRoot(trustDomain: Self.trustDomain)
                let legacy =
                    #"{"certificate_pem":\#(Self.json(old.certificatePEM)),"private_key_pem":\#(Self.json(old.privateKeyPEM)),"trust_domain":"weft.local"}"#
                try await store.apply(
                    [.put(.certificateAuthority, AuthorityLoader.key, Data(legacy.utf8), precondition: .absent)],
                    audit: nil)
                let keyFile = AuthorityLoader.KeyFile(path: directory + "/ca-kek", mayCreate: true)

                let loaded = try await Self.load(store, keyFile)
                #expect(loaded.trustBundleFingerprint == old.trustBundleFingerprint, "the same CA, not a new one")
                let body = String(decoding: try await Self.record(store).body, as: UTF8.self)
                #expect(!body.contains("PRIVATE KEY"), "the plaintext key is gone from the record")
                #expect(body.contains("sealed_private_key"))
                let audit = try await store.auditEntries(afterID: 0, limit: 10)
                #expect(audit.map(\.action) == ["seal the mesh CA's private key"])
                #expect(audit.allSatisfy { !($0.before ?? "").contains("PRIVATE KEY") })

                let again = try await Self.load(store, keyFile)
                #expect(again.privateKeyPEM == old.privateKeyPEM)
            }
        }
    }

    @Test func aSealedKeyWithoutItsKeyFileStopsTheStartAndKeepsTheCA() async throws {
        try await Self.withDirectory { directory in
            try await withStoreFixture(.sqlite) { _, store in
                let keyFile = AuthorityLoader.KeyFile(path: directory + "/ca-kek", mayCreate: true)
                _ = try await Self.load(store, keyFile)
                try FileManager.default.removeItem(atPath: keyFile.path)
                try await Self.expectRefusal(store, keyFile, mentioning: [keyFile.path, "does not exist"])
                #expect(!FileManager.default.fileExists(atPath: keyFile.path), "no new key over a sealed CA")
            }
        }
    }

    @Test func anotherKeyFileIsRefusedByName() async throws {
        try await Self.withDirectory { directory in
            try await withStoreFixture(.sqlite) { _, store in
                let keyFile = AuthorityLoader.KeyFile(path: directory + "/ca-kek", mayCreate: true)
                _ = try await Self.load(store, keyFile)
                try Self.writeKey(Self.randomKey(), to: keyFile.path)
                try await Self.expectRefusal(
                    store, keyFile, mentioning: [keyFile.path, "sealed under key-encryption key"])
            }
        }
    }

    @Test func aSealedKeyMovedToAnotherCertificateDoesNotOpen() async throws {
        try await Self.withDirectory { directory in
            try await withStoreFixture(.sqlite) { _, store in
                let keyFile = AuthorityLoader.KeyFile(path: directory + "/ca-kek", mayCreate: true)
                _ = try await Self.load(store, keyFile)
                var stored = try StoredCoding.decode(StoredAuthority.self, from: try await Self.record(store))
                stored.certificatePEM = try CertificateAuthority.generateRoot(trustDomain: Self.trustDomain)
                    .certificatePEM
                try await store.apply(
                    [.put(.certificateAuthority, AuthorityLoader.key, StoredCoding.encode(stored))], audit: nil)
                try await Self.expectRefusal(store, keyFile, mentioning: ["damaged or altered"])
            }
        }
    }

    @Test(arguments: [
        (size: 31, mode: mode_t(0o600), reason: "holds 31 bytes"),
        (size: 33, mode: mode_t(0o600), reason: "holds 33 bytes"),
        (size: 32, mode: mode_t(0o640), reason: "has mode 640"),
        (size: 32, mode: mode_t(0o604), reason: "has mode 604"),
    ])
    func aKeyFileOfTheWrongSizeOrOpenToOthersIsRefused(size: Int, mode: mode_t, reason: String) async throws {
        try await Self.withDirectory { directory in
            try await withStoreFixture(.sqlite) { _, store in
                let keyFile = AuthorityLoader.KeyFile(path: directory + "/ca-kek", mayCreate: true)
                try Self.writeKey((0..<size).map { _ in UInt8.random(in: 0...255) }, to: keyFile.path, mode: mode)
                try await Self.expectRefusal(store, keyFile, mentioning: [keyFile.path, reason])
                #expect(try await store.object(.certificateAuthority, AuthorityLoader.key) == nil, "no CA made")
            }
        }
    }

    @Test func aConfiguredKeyFileThatIsMissingIsNotCreated() async throws {
        try await Self.withDirectory { directory in
            try await withStoreFixture(.sqlite) { _, store in
                let keyFile = AuthorityLoader.KeyFile(path: directory + "/given-kek", mayCreate: false)
                try await Self.expectRefusal(store, keyFile, mentioning: [keyFile.path, "does not exist"])
                #expect(!FileManager.default.fileExists(atPath: keyFile.path))
                #expect(try await store.object(.certificateAuthority, AuthorityLoader.key) == nil)
            }
        }
    }

    @Test func weftdRefusesToStartWithoutTheKeyFileOfItsSealedCA() async throws {
        let directory = try NodeAPITests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await RunningControlPlane.start(dataDirectory: directory)
        let bundle = try String(contentsOfFile: first.ready.trustBundleFile, encoding: .utf8)
        await first.stop()
        try FileManager.default.removeItem(atPath: directory + "/ca-kek")
        do {
            let second = try await RunningControlPlane.start(dataDirectory: directory)
            await second.stop()
            Issue.record("weftd started without the key of its sealed CA")
        } catch {
            #expect("\(error)".contains(directory + "/ca-kek"), "\(error)")
        }
        #expect(
            try String(contentsOfFile: directory + "/trust-bundle.pem", encoding: .utf8) == bundle,
            "the CA was not replaced")
    }

    static func json(_ string: String) -> String {
        String(decoding: try! JSONEncoder().encode(string), as: UTF8.self)
    }
}
