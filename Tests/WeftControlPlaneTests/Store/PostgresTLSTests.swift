import Foundation
import Testing
import WeftIdentity

@testable import WeftControlPlane

/// TLS to a real server: Scripts/postgres's, whose certificate names only `localhost` and is signed by the CA in
/// the URL's `sslrootcert`.
@Suite("StoreConformance.PostgresTLS", .serialized)
struct PostgresTLSTests {
    struct NotTheTLSServer: Error, CustomStringConvertible {
        var description: String {
            "WEFT_TEST_POSTGRES_URL must be the TLS URL Scripts/postgres start prints (host localhost, sslrootcert=…)"
        }
    }

    static func serverURL() throws -> (url: PostgresURL, port: Int) {
        let url = try StoreFixture.postgresServerURL()
        guard case .tcp("localhost", let port) = url.endpoint, url.rootCertificatePath != nil else {
            throw NotTheTLSServer()
        }
        return (url, port)
    }

    /// Whether the session `url` opens is encrypted, as the server sees it.
    static func sessionUsesTLS(_ url: PostgresURL) async throws -> Bool {
        let store = try PostgresStore(url: url, timeout: .seconds(5))
        do {
            let ssl = try await store.int64sForTesting(
                "SELECT CASE WHEN ssl THEN 1 ELSE 0 END FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            await store.close()
            return ssl == [1]
        } catch {
            await store.close()
            throw error
        }
    }

    /// What a first connection (as `migrate()` makes) reports for `url`.
    static func connectionError(_ url: PostgresURL) async -> String? {
        do {
            let store = try PostgresStore(url: url, timeout: .seconds(1))
            do { try await store.migrate() } catch {
                await store.close()
                return "\(error)"
            }
            await store.close()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func theDefaultIsVerifiedTLS() async throws {
        let (url, _) = try Self.serverURL()
        #expect(url.tlsMode == .verifyFull)
        #expect(try await Self.sessionUsesTLS(url))
    }

    @Test func aServerCertificateFromAnotherCAIsRefusedClearly() async throws {
        var (url, _) = try Self.serverURL()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "weft-pg-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let otherRoot = directory.appendingPathComponent("other-ca.pem").path
        try CertificateAuthority.generateRoot(trustDomain: "other.test").trustBundlePEM.write(
            toFile: otherRoot, atomically: true, encoding: .utf8)
        url.rootCertificatePath = otherRoot

        let error = try #require(await Self.connectionError(url), "a server the roots do not vouch for is refused")
        #expect(error.contains("TLS with postgres://postgres@localhost"), "\(error)")
        #expect(error.contains("sslrootcert"), "\(error)")
    }

    @Test func verifyFullChecksTheHostNameAndVerifyCADoesNot() async throws {
        var (url, port) = try Self.serverURL()
        url.endpoint = .tcp(host: "127.0.0.1", port: port)
        let error = try #require(await Self.connectionError(url), "the certificate names localhost, not 127.0.0.1")
        #expect(error.contains("TLS with postgres://postgres@127.0.0.1"), "\(error)")

        url.tlsMode = .verifyCA
        #expect(try await Self.sessionUsesTLS(url), "verify-ca checks the chain only")
    }

    @Test func sslmodeDisableStillConnectsInPlaintext() async throws {
        var (url, _) = try Self.serverURL()
        url.tlsMode = .disable
        #expect(try await Self.sessionUsesTLS(url) == false)
    }
}
