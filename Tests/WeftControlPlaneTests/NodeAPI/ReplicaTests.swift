import Foundation
import Testing
import WeftCore
import WeftNode

@testable import WeftControlPlane

/// Two weftd on one PostgreSQL database: both serve current state, and a write through one reaches nodes watching
/// the other (LISTEN/NOTIFY).
@Suite("weftd replicas on PostgreSQL", .serialized)
struct ReplicaTests {
    /// A fresh database on the test server; dropped by `drop`.
    static func createDatabase() async throws -> (url: String, drop: @Sendable () async -> Void) {
        guard let server = ProcessInfo.processInfo.environment["WEFT_TEST_POSTGRES_URL"], !server.isEmpty,
            var components = URLComponents(string: server)
        else { throw StoreFixtureError.postgresNotConfigured }
        let database = "weft_replicas_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admin = try PostgresStore(url: server)
        try await admin.executeForTesting("CREATE DATABASE \(database)")
        components.path = "/\(database)"
        return (
            components.string!,
            {
                try? await admin.executeForTesting("DROP DATABASE IF EXISTS \(database) WITH (FORCE)")
                await admin.close()
            }
        )
    }

    @Test func twoReplicasServeCurrentStateAndPushEachOthersChanges() async throws {
        let (url, drop) = try await Self.createDatabase()
        let directoryA = try NodeAPITests.temporaryDirectory()
        let directoryB = try NodeAPITests.temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: directoryA)
            try? FileManager.default.removeItem(atPath: directoryB)
        }
        let replicaA = try await RunningControlPlane.start(dataDirectory: directoryA, postgresURL: url)
        // Every replica needs the key-encryption key of the CA the first one sealed into the database.
        await #expect {
            try await RunningControlPlane.start(
                dataDirectory: directoryB, postgresURL: url, adminToken: replicaA.adminToken)
        } throws: { "\($0)".contains("\(directoryB)/ca-kek does not exist") }
        let replicaB = try await RunningControlPlane.start(
            dataDirectory: directoryB, postgresURL: url, adminToken: replicaA.adminToken
        ) { $0.caKeyEncryptionKeyFile = replicaA.configuration.caKeyFile.path }
        do {
            #expect(replicaB.ready.bootstrapTokenFile == nil, "only the first replica makes the bootstrap token")
            // Both replicas share the CA and the tokens: a token made through A works at B's join listener and
            // B's admin API accepts A's bootstrap token.
            let token = try await replicaA.joinToken(for: "host-b")
            let credentials = try await ControlPlaneJoin.join(
                address: replicaB.ready.joinListener, token: token, nodeName: "host-b")
            let bundleA = try String(contentsOfFile: replicaA.ready.trustBundleFile, encoding: .utf8)
            #expect(credentials.trustBundlePEM == bundleA)

            let node = try WatchingNode(control: replicaB, credentials: credentials)
            try await node.register(["backend": ["198.18.0.12:8080"]])
            _ = try await node.next { !$0.config.nodeConfig.services.isEmpty }

            let frontend = ServiceName(name: "frontend")
            let backend = ServiceName(name: "backend")
            let start = ContinuousClock.now
            let write = try await replicaA.admin(
                .PUT, "/v1/intentions", json: #"{"source": "frontend", "destination": "backend", "action": "deny"}"#)
            #expect(write.status.code < 300)
            _ = try await node.next(within: .seconds(1)) {
                !$0.config.policy.evaluate(source: frontend, destination: backend).allowed
            }
            #expect(ContinuousClock.now - start < .seconds(1))

            // B serves the state A wrote, and A the endpoint B registered.
            let viaB = try await replicaB.admin(.GET, "/v1/intentions")
            #expect(String(decoding: viaB.body, as: UTF8.self).contains("frontend"))
            let viaA = try await replicaA.admin(.GET, "/v1/nodes/host-b")
            #expect(String(decoding: viaA.body, as: UTF8.self).contains("198.18.0.12"))
            await node.stop()
        } catch {
            await replicaA.stop()
            await replicaB.stop()
            await drop()
            throw error
        }
        await replicaA.stop()
        await replicaB.stop()
        await drop()
    }
}
