import Foundation
import Testing
import WeftLabSupport

/// The weftd and weftctl executables as an admin runs them: a weftd.toml, the bootstrap token file, TLS with the
/// mesh CA, a clean stop on SIGTERM, state kept across a restart.
@Suite("weftd binary", .serialized)
struct WeftdBinaryTests {
    struct Setup {
        let directory: String
        let config: String

        init(toml: (String) -> String) throws {
            directory =
                FileManager.default.temporaryDirectory.appendingPathComponent("weftd-bin-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            config = "\(directory)/weftd.toml"
            try toml(directory).write(toFile: config, atomically: true, encoding: .utf8)
        }

        func start() throws -> BackgroundProcess {
            try BackgroundProcess(try TestBinaries.path("weftd"), ["--config", config], home: directory)
        }

        func weftctl(_ arguments: [String], admin: String) async throws -> ProcessOutcome {
            let token = try String(contentsOfFile: "\(directory)/data/admin-token", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return try await ProcessOutcome.run(
                try TestBinaries.path("weftctl"), arguments, home: directory,
                environment: [
                    "WEFT_ADDR": admin, "WEFT_TOKEN": token, "WEFT_CA_FILE": "\(directory)/data/trust-bundle.pem",
                ]
            )
        }
    }

    static func toml(_ directory: String) -> String {
        """
        data_dir = "\(directory)/data"
        node_listen = "127.0.0.1:0"
        join_listen = "127.0.0.1:0"
        admin_listen = "127.0.0.1:0"
        workload_certificate_ttl = "1h"
        """
    }

    static func field(_ name: String, in line: String) -> String? {
        line.split(separator: " ").first { $0.hasPrefix("\(name)=") }.map { String($0.dropFirst(name.count + 1)) }
    }

    @Test func weftdFromATOMLFileServesWeftctlOverTLSAndKeepsStateAcrossARestart() async throws {
        let setup = try Setup(toml: Self.toml)
        defer { try? FileManager.default.removeItem(atPath: setup.directory) }
        let first = try setup.start()
        defer { first.stop(signal: SIGKILL) }
        let ready = try #require(first.waitForLine(containing: "weftd ready"), "weftd did not start: \(first.stderr)")
        let admin = try #require(Self.field("admin", in: ready))
        #expect(admin.hasPrefix("https://127.0.0.1:"))
        #expect(Self.field("bootstrap_token", in: ready) == "\(setup.directory)/data/admin-token")
        let mode =
            try FileManager.default.attributesOfItem(atPath: "\(setup.directory)/data/admin-token")[.posixPermissions]
            as? Int
        #expect(mode == 0o600)
        let bootstrap = try String(contentsOfFile: "\(setup.directory)/data/admin-token", encoding: .utf8)
        let id = bootstrap.split(separator: ".").dropFirst().first.map(String.init)
        #expect(
            id != nil && id != "bootstrap" && id!.count >= 8, "the bootstrap token's id is not guessable: \(id ?? "-")")

        let status = try await setup.weftctl(["status"], admin: admin)
        #expect(status.status == 0, "\(status)")
        let token = try await setup.weftctl(
            ["node", "token", "create", "--name", "host-a", "--ttl", "1h"], admin: admin)
        #expect(token.status == 0 && token.stdout.hasPrefix("weftjoin."), "\(token)")
        let deny = try await setup.weftctl(["intention", "deny", "frontend", "backend"], admin: admin)
        #expect(deny.status == 0, "\(deny)")
        let check = try await setup.weftctl(["intention", "check", "frontend", "backend"], admin: admin)
        #expect(check.stdout.contains("deny"), "\(check)")

        #expect(first.stop() == 0, "weftd should exit 0 on SIGTERM: \(first.stderr)")
        #expect(first.stderr.contains("weftd stopped"))

        let second = try setup.start()
        defer { second.stop(signal: SIGKILL) }
        let again = try #require(
            second.waitForLine(containing: "weftd ready"), "weftd did not restart: \(second.stderr)")
        #expect(Self.field("bootstrap_token", in: again) == nil, "the bootstrap token is made only on the first start")
        let adminAgain = try #require(Self.field("admin", in: again))
        let list = try await setup.weftctl(["intention", "list", "-o", "json"], admin: adminAgain)
        #expect(list.status == 0 && list.stdout.contains("frontend") && list.stdout.contains("deny"), "\(list)")
        let audit = try await setup.weftctl(["audit"], admin: adminAgain)
        #expect(audit.stdout.contains("frontend>backend"), "\(audit)")
        #expect(second.stop() == 0)
    }

    /// Under systemd (`Type=notify`, `WatchdogSec=`, stderr to journald): READY=1 once weftd serves, watchdog
    /// pings, STOPPING=1 on SIGTERM — to the socket in NOTIFY_SOCKET, as systemd would receive them — and log lines
    /// with their priority.
    @Test func underSystemdWeftdSaysReadyPingsTheWatchdogAndSaysStopping() async throws {
        let setup = try Setup(toml: Self.toml)
        defer { try? FileManager.default.removeItem(atPath: setup.directory) }
        let systemd = try NotifySocket(name: "\(setup.directory)/notify")
        let weftd = try BackgroundProcess(
            try TestBinaries.path("weftd"), ["--config", setup.config], home: setup.directory,
            environment: ["NOTIFY_SOCKET": systemd.name, "WATCHDOG_USEC": "400000"], journalStderr: true)
        defer { weftd.stop(signal: SIGKILL) }
        let ready = systemd.receive(until: "READY=1")
        #expect(
            ready.contains { $0.hasPrefix("READY=1\nSTATUS=serving nodes on 127.0.0.1:") }, "\(ready) \(weftd.stderr)")
        #expect(systemd.receive(until: "WATCHDOG=1").last == "WATCHDOG=1")
        #expect(weftd.stop() == 0)
        let stopping = systemd.receive(until: "STOPPING=1")
        #expect(stopping.last?.hasPrefix("STOPPING=1\nSTATUS=stopping") == true, "\(stopping)")
        // Its standard error is journald's: every line carries its priority and no timestamp of its own.
        let lines = weftd.stderr.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.first == "<" }, "\(weftd.stderr)")
        #expect(lines.contains { $0.hasPrefix("<5>weftd: weftd stopped") }, "\(weftd.stderr)")
        #expect(!lines.contains { $0.contains("+0000 ") }, "no timestamp of its own: \(weftd.stderr)")
    }

    @Test(arguments: [
        ("node_timeout = \"soon\"", "node_timeout"),
        ("nod_timeout = \"5s\"", "unknown setting"),
        ("admin_listen = \"0.0.0.0:15443\"\nadmin_plaintext = true", "only listen on loopback"),
        ("vip_range = \"2001:2::/64\"", "vip_range"),
        ("ca_certificate = \"/nonexistent.pem\"", "give both ca_certificate and ca_private_key"),
        ("trust_domain = \"Weft Local\"", "trust_domain"),
    ])
    func aBadConfigIsRefusedWithTheSettingNamed(line: String, expected: String) async throws {
        let setup = try Setup { directory in "data_dir = \"\(directory)/data\"\n\(line)\n" }
        defer { try? FileManager.default.removeItem(atPath: setup.directory) }
        let outcome = try await ProcessOutcome.run(
            try TestBinaries.path("weftd"), ["--config", setup.config], home: setup.directory)
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains(expected), "\(outcome)")
        #expect(
            !FileManager.default.fileExists(atPath: "\(setup.directory)/data/weft.db"),
            "a refused config must not create state")
    }
}
