import Foundation
import Testing
import WeftAdminClient
import WeftCore

@testable import WeftControlPlane

/// The built `weftctl` binary against an in-process admin server over HTTPS: what people and scripts see.
@Suite("Weftctl")
struct WeftctlTests {
    typealias Run = ProcessOutcome

    struct CLITestError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// A HOME of its own, and the CA file, for each test.
    struct Workspace: Sendable {
        let home: URL
        let caFile: String
        let fixture: AdminAPIFixture

        init(_ fixture: AdminAPIFixture) throws {
            self.fixture = fixture
            home = fixture.directory.appendingPathComponent("home")
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            caFile = fixture.directory.appendingPathComponent("trust-bundle.pem").path
            try fixture.authority.trustBundlePEM.write(toFile: caFile, atomically: true, encoding: .utf8)
        }

        /// The flags that reach the fixture's server with its write token.
        var connection: [String] { ["--addr", fixture.baseURL, "--token", fixture.writeToken, "--ca-file", caFile] }

        /// Runs weftctl with only HOME, PATH and `environment` set (nothing from the test runner's WEFT_*).
        func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Run {
            try await ProcessOutcome.run(
                try TestBinaries.path("weftctl"), arguments, home: home.path, environment: environment)
        }
    }

    static func withWorkspace(_ body: @Sendable (Workspace) async throws -> Void) async throws {
        try await AdminAPIFixture.with { fixture in try await body(try Workspace(fixture)) }
    }

    @Test func tokenCreatePrintsAToken() async throws {
        try await Self.withWorkspace { workspace in
            let run = try await workspace.run(
                ["node", "token", "create", "--name", "host-a", "--ttl", "1h"] + workspace.connection)
            #expect(run.status == 0, "\(run)")
            let token = run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(token.hasPrefix("weftjoin."), "\(run)")
            #expect(!token.contains("\n"), "the token alone on stdout")
            #expect(run.stderr.contains("host-a"))
            let parsed = try #require(JoinToken(parsing: token))
            let stored = try await workspace.fixture.registry.joinTokens().map(\.value)
            #expect(stored.map(\.id) == [parsed.id])
            #expect(stored.first?.nodeName == "host-a")
            #expect(stored.first.map { $0.expiresAt.timeIntervalSince($0.createdAt) } == 3600)

            let list = try await workspace.run(["node", "token", "list", "-o", "json"] + workspace.connection)
            let tokens = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
            #expect(tokens?.first?["state"] as? String == "valid", "\(list)")
            #expect(try await workspace.run(["node", "token", "revoke", parsed.id] + workspace.connection).status == 0)
        }
    }

    @Test func intentionAllowThenListAsTableAndJSON() async throws {
        try await Self.withWorkspace { workspace in
            let allow = try await workspace.run(
                ["intention", "allow", "frontend", "backend", "--description", "web tier"] + workspace.connection)
            #expect(allow.status == 0, "\(allow)")
            let deny = try await workspace.run(["intention", "deny", "*", "payments/api"] + workspace.connection)
            #expect(deny.status == 0, "\(deny)")

            let table = try await workspace.run(["intention", "list"] + workspace.connection)
            #expect(table.status == 0, "\(table)")
            let lines = table.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("SOURCE") == true)
            let row = try #require(lines.first { $0.hasPrefix("frontend") })
            #expect(
                row.split(separator: " ", omittingEmptySubsequences: true).prefix(3) == [
                    "frontend", "backend", "allow",
                ])
            #expect(row.contains("web tier"))
            #expect(lines.contains { $0.hasPrefix("*") && $0.contains("payments/api") && $0.contains("deny") })

            let json = try await workspace.run(["intention", "list", "-o", "json"] + workspace.connection)
            #expect(json.status == 0, "\(json)")
            let items = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
            let first = try #require(items.first { $0["source"] as? String == "frontend" })
            #expect(first["destination"] as? String == "backend")
            #expect(first["action"] as? String == "allow")
            #expect((first["revision"] as? NSNumber)?.int64Value ?? 0 > 0)
            #expect(items.count == 2)

            let check = try await workspace.run(["intention", "check", "frontend", "backend"] + workspace.connection)
            #expect(check.stdout.hasPrefix("allow: allowed by intention frontend>backend"), "\(check)")

            let delete = try await workspace.run(["intention", "delete", "frontend", "backend"] + workspace.connection)
            #expect(delete.status == 0, "\(delete)")
            #expect(try await workspace.fixture.registry.intentions().count == 1)
        }
    }

    /// A distributor stand-in that could not decode one record.
    struct OneUndecodableRecord: NodeStatusSource {
        func nodeStreamStatus() -> [NodeStreamStatus] { [] }
        func undecodableRecords() -> [UndecodableRecord] {
            [UndecodableRecord(kind: "service", name: "default/broken", reason: "'ports' is missing")]
        }
    }

    @Test func statusPrintsTheRecordsConfigLeftOut() async throws {
        try await AdminAPIFixture.with(nodeStatus: OneUndecodableRecord()) { fixture in
            let workspace = try Workspace(fixture)
            let status = try await workspace.run(["status"] + workspace.connection)
            #expect(status.status == 0, "\(status)")
            #expect(status.stdout.contains("undecodable records"), "\(status)")
            let row = status.stdout.split(separator: "\n").first { $0.contains("default/broken") }
            #expect(row?.contains("service") == true && row?.contains("'ports' is missing") == true, "\(status)")
        }
    }

    @Test func stopAllAndResumeFromTheCommandLine() async throws {
        try await Self.withWorkspace { workspace in
            _ = try await workspace.run(["intention", "allow", "frontend", "backend"] + workspace.connection)
            let stop = try await workspace.run(["intention", "stop-all"] + workspace.connection)
            #expect(stop.status == 0, "\(stop)")
            let denied = try await workspace.run(["intention", "check", "frontend", "backend"] + workspace.connection)
            #expect(denied.stdout == "deny: all traffic is stopped\n", "\(denied)")
            let status = try await workspace.run(["status"] + workspace.connection)
            #expect(status.stdout.contains("STOPPED"), "\(status)")
            let resume = try await workspace.run(["mesh", "resume"] + workspace.connection)
            #expect(resume.status == 0, "\(resume)")
            let allowed = try await workspace.run(
                ["intention", "check", "frontend", "backend", "-o", "json"] + workspace.connection)
            let decision = try JSONSerialization.jsonObject(with: Data(allowed.stdout.utf8)) as? [String: Any]
            #expect(decision?["allowed"] as? Bool == true, "\(allowed)")

            let mode = try await workspace.run(["mesh", "mode", "permissive"] + workspace.connection)
            #expect(mode.stdout.contains("permissive"), "\(mode)")
            let telemetry = try await workspace.run(
                [
                    "telemetry", "set", "--metrics-push", "statsd", "--metrics-endpoint", "198.18.0.30:8125",
                    "--interval", "10s",
                ]
                    + workspace.connection
            )
            #expect(telemetry.status == 0, "\(telemetry)")
            #expect(try await workspace.fixture.registry.settings().value.telemetry.pushInterval == 10)
            let off = try await workspace.run(["telemetry", "off", "-o", "json"] + workspace.connection)
            let settings = try JSONSerialization.jsonObject(with: Data(off.stdout.utf8)) as? [String: Any]
            #expect(settings?["metrics_push"] as? String == "none", "\(off)")
        }
    }

    @Test func servicesPutFromFlags() async throws {
        try await Self.withWorkspace { workspace in
            let put = try await workspace.run(
                ["services", "put", "payments/api", "--port", "9000", "--protocol", "grpc", "--label", "team=pay"]
                    + workspace.connection
            )
            #expect(put.status == 0, "\(put)")
            let vip = put.stdout.split(separator: "\n").first { $0.hasPrefix("vip:") }.flatMap {
                IPAddress($0.dropFirst(4).trimmingCharacters(in: .whitespaces))
            }
            #expect(vip.map(NodeConfig.defaultVIPRange.contains) == true, "shows the VIP the registry assigned: \(put)")
            let external = try await workspace.run(
                ["services", "put", "legacy-db", "--port", "5432", "--external", "198.18.0.20:5432"]
                    + workspace.connection
            )
            #expect(external.status == 0, "\(external)")
            let list = try await workspace.run(["services", "list"] + workspace.connection)
            #expect(list.stdout.contains("payments/api") && list.stdout.contains("external"), "\(list)")
            let bad = try await workspace.run(["services", "put", "Bad_Name", "--port", "80"] + workspace.connection)
            #expect(bad.status != 0)
            #expect(bad.stderr.contains("Bad_Name"), "\(bad)")
        }
    }

    /// Placement from the command line: a second node's claim is refused and shown with why, until an admin
    /// allows that node; join tokens can fix a node's addresses.
    @Test func placementRefusedClaimsAndAllowNode() async throws {
        try await Self.withWorkspace { workspace in
            let registry = workspace.fixture.registry
            let (a, b) = (IPAddress("198.18.0.11")!, IPAddress("198.18.0.12")!)
            _ = try await RegistryPlacementTests.join(registry, "host-a", declared: [a], peer: a)
            _ = try await RegistryPlacementTests.join(registry, "host-b", declared: [b], peer: b)
            try await registry.register(
                node: "host-a", addresses: [a], version: "t", services: RegistryPlacementTests.serving(a))
            try await registry.register(
                node: "host-b", addresses: [b], version: "t", services: RegistryPlacementTests.serving(b))

            let shown = try await workspace.run(["nodes", "show", "host-b"] + workspace.connection)
            #expect(shown.status == 0, "\(shown)")
            #expect(shown.stdout.contains("refused claims"), "\(shown)")
            #expect(
                shown.stdout.contains("not-placed") && shown.stdout.contains("weftctl service allow-node api host-b"))

            let allowed = try await workspace.run(["service", "allow-node", "api", "host-b"] + workspace.connection)
            #expect(allowed.status == 0, "\(allowed)")
            #expect(allowed.stdout.contains("placed on host-a,host-b"), "\(allowed)")
            let unknown = try await workspace.run(["service", "allow-node", "api", "host-z"] + workspace.connection)
            #expect(unknown.status != 0 && unknown.stderr.contains("host-z"), "\(unknown)")

            let token = try await workspace.run(
                ["node", "token", "create", "--name", "host-c", "--address", "198.18.0.13", "-o", "json"]
                    + workspace.connection)
            #expect(token.status == 0 && token.stdout.contains("198.18.0.13"), "\(token)")
            let loopback = try await workspace.run(
                ["node", "token", "create", "--name", "host-d", "--address", "127.0.0.1"] + workspace.connection)
            #expect(loopback.status != 0 && loopback.stderr.contains("loopback"), "\(loopback)")
        }
    }

    @Test func missingTokenSaysWhereToPutOne() async throws {
        try await Self.withWorkspace { workspace in
            let run = try await workspace.run([
                "status", "--addr", workspace.fixture.baseURL, "--ca-file", workspace.caFile,
            ])
            #expect(run.status != 0)
            #expect(
                run.stderr.contains("no token: pass --token or --token-file, set WEFT_TOKEN or WEFT_TOKEN_FILE"),
                "\(run)")
            #expect(run.stdout.isEmpty)
        }
    }

    @Test func errorsSayWhatToDo() async throws {
        try await Self.withWorkspace { workspace in
            let wrong = try await workspace.run(
                ["status", "--addr", workspace.fixture.baseURL, "--ca-file", workspace.caFile],
                environment: ["WEFT_TOKEN": "weftadmin.nobody.nothing"]
            )
            #expect(wrong.status != 0)
            #expect(wrong.stderr.contains("unknown") && wrong.stderr.contains("WEFT_TOKEN"), "\(wrong)")

            let readOnly = try await workspace.run(
                [
                    "mesh", "stop-all", "--addr", workspace.fixture.baseURL, "--ca-file", workspace.caFile, "--token",
                    workspace.fixture.readToken,
                ]
            )
            #expect(readOnly.status != 0)
            #expect(readOnly.stderr.contains("read scope"), "\(readOnly)")

            _ = try await workspace.run(["intention", "allow", "frontend", "backend"] + workspace.connection)
            let stale = try await workspace.run(
                ["intention", "deny", "frontend", "backend", "--if-match", "1"] + workspace.connection)
            #expect(stale.status != 0)
            #expect(stale.stderr.contains("run the command again"), "\(stale)")

            let refused = try await workspace.run(["status", "--addr", "127.0.0.1:1", "--token", "x"])
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("127.0.0.1:1") && refused.stderr.contains("refused"), "\(refused)")

            let untrusted = try await workspace.run([
                "status", "--addr", workspace.fixture.baseURL, "--token", workspace.fixture.writeToken,
            ])
            #expect(untrusted.status != 0)
            #expect(untrusted.stderr.contains("--ca-file"), "\(untrusted)")
        }
    }

    @Test func configFileIsTheLastFallback() async throws {
        try await Self.withWorkspace { workspace in
            let directory = workspace.home.appendingPathComponent(".config/weft")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try """
            # weftctl settings
            addr = "\(workspace.fixture.baseURL)"
            token = "\(workspace.fixture.readToken)"
            ca_file = "\(workspace.caFile)"
            """.write(to: directory.appendingPathComponent("config"), atomically: true, encoding: .utf8)

            let status = try await workspace.run(["status", "-o", "json"])
            #expect(status.status == 0, "\(status)")
            let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            #expect(object?["trust_domain"] as? String == "weft.local")

            // The file's token is read-only; the environment's wins over it, and the flag over both.
            let fromFile = try await workspace.run(["mesh", "stop-all"])
            #expect(fromFile.status != 0 && fromFile.stderr.contains("read scope"), "\(fromFile)")
            let fromEnvironment = try await workspace.run(
                ["mesh", "stop-all"], environment: ["WEFT_TOKEN": workspace.fixture.writeToken])
            #expect(fromEnvironment.status == 0, "\(fromEnvironment)")
            let fromFlag = try await workspace.run(
                ["mesh", "resume", "--token", workspace.fixture.writeToken],
                environment: ["WEFT_TOKEN": "weftadmin.bad.bad"]
            )
            #expect(fromFlag.status == 0, "\(fromFlag)")

            // A profile may name a token file instead (the bootstrap token weftd wrote, say).
            let tokenFile = workspace.home.appendingPathComponent("admin-token").path
            try "\(workspace.fixture.writeToken)\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            try """
            addr = "\(workspace.fixture.baseURL)"
            token_file = "\(tokenFile)"
            ca_file = "\(workspace.caFile)"
            """.write(to: directory.appendingPathComponent("config"), atomically: true, encoding: .utf8)
            #expect(try await workspace.run(["mesh", "stop-all"]).status == 0)
            let missing = try await workspace.run(["status", "--token-file", "/nonexistent/token"])
            #expect(missing.status != 0 && missing.stderr.contains("/nonexistent/token"), "\(missing)")

            try "tokn = \"x\"\n".write(
                to: directory.appendingPathComponent("config"), atomically: true, encoding: .utf8)
            let typo = try await workspace.run(["status"])
            #expect(
                typo.status != 0 && typo.stderr.contains("config:1: tokn: unknown setting; did you mean token?"),
                "\(typo)")
        }
    }
}
