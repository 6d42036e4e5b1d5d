import Foundation
import Logging
import NIOHTTP1
import Testing
import WeftAdminClient
import WeftCore
import WeftIdentity

@testable import WeftControlPlane

/// A real admin server for one test: a SQLite store in a temporary directory, a freshly generated CA, the admin API
/// over HTTPS on 127.0.0.1 (port 0) with a certificate from that CA, an admin and a read token, and clients that
/// trust only that CA. ``AdminAPIFixture/with(_:)`` always stops the server and removes the directory.
struct AdminAPIFixture: Sendable {
    let directory: URL
    let registry: Registry
    let authority: CertificateAuthority
    let baseURL: String
    let writeToken: String
    let readToken: String
    let writer: AdminClient
    let reader: AdminClient
    let anonymous: AdminClient

    static func with<T: Sendable>(
        nodeStatus: (any NodeStatusSource)? = nil, _ body: @Sendable (AdminAPIFixture) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "weft-admin-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("weft.sqlite").path)
        try await store.migrate()
        let authority = try CertificateAuthority.generateRoot(trustDomain: "weft.local")
        let registry = Registry(store: store, authority: authority, configuration: RegistryConfiguration())
        let write = try await registry.createAdminToken(name: "admin", scope: .admin, actor: "test")
        let read = try await registry.createAdminToken(name: "viewer", scope: .read, actor: "test")
        let server = AdminServer(
            configuration: AdminServerConfiguration(
                host: "127.0.0.1", port: 0,
                tls: try .issued(by: authority, dnsNames: ["localhost"], ipAddresses: [IPAddress("127.0.0.1")!])
            ),
            api: AdminAPI(registry: registry, nodeStatus: nodeStatus), logger: quietLogger
        )
        let result = try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await server.run()
                return nil
            }
            let port = try await server.listeningPort()
            let baseURL = "https://127.0.0.1:\(port)"
            let fixture = AdminAPIFixture(
                directory: directory, registry: registry, authority: authority, baseURL: baseURL,
                writeToken: write.text, readToken: read.text,
                writer: try AdminClient(baseURL: baseURL, token: write.text, trustedCAPEM: authority.trustBundlePEM),
                reader: try AdminClient(baseURL: baseURL, token: read.text, trustedCAPEM: authority.trustBundlePEM),
                anonymous: try AdminClient(baseURL: baseURL, token: nil, trustedCAPEM: authority.trustBundlePEM)
            )
            do {
                let value = try await body(fixture)
                try await fixture.shutdownClients()
                group.cancelAll()
                return value
            } catch {
                try? await fixture.shutdownClients()
                group.cancelAll()
                throw error
            }
        }
        await store.close()
        return result
    }

    func shutdownClients() async throws {
        try await writer.shutdown()
        try await reader.shutdown()
        try await anonymous.shutdown()
    }

    /// The revision and the audit log, to show that a refused request changed nothing.
    func snapshot() async throws -> Snapshot {
        Snapshot(
            revision: try await registry.revision(), audit: try await registry.auditEntries(afterID: 0, limit: 10_000))
    }

    struct Snapshot: Equatable {
        var revision: Int64
        var audit: [AuditEntry]
    }

    /// Sends a request that must be refused with `status`, checks the error body (and the field it names), and
    /// that nothing changed. Returns the error body.
    @discardableResult
    func expectRefusal(
        _ status: HTTPResponseStatus, field: String? = nil, client: AdminClient? = nil,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ send: (AdminClient) async throws -> AdminResponse
    ) async throws -> AdminErrorBody? {
        let before = try await snapshot()
        let response = try await send(client ?? writer)
        #expect(response.status == status, "body: \(response.text)", sourceLocation: sourceLocation)
        let body = response.error
        #expect(body != nil, "an error body {\"error\": …}; got \(response.text)", sourceLocation: sourceLocation)
        if let field { #expect(body?.field == field, "body: \(response.text)", sourceLocation: sourceLocation) }
        #expect(!(body?.error.isEmpty ?? true), sourceLocation: sourceLocation)
        let after = try await snapshot()
        #expect(after == before, "a refused request changed the registry", sourceLocation: sourceLocation)
        return body
    }
}

/// Warnings and errors only: a test's output shows what went wrong, not every start and stop.
let quietLogger: Logger = {
    var logger = Logger(label: "weft.admin-api.test")
    logger.logLevel = .warning
    return logger
}()

extension Data {
    init(json: String) { self = Data(json.utf8) }
}
