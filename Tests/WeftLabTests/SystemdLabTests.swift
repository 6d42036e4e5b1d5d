import Foundation
import Testing
import WeftCore
import WeftLabSupport

/// The mesh on booted Debian 12 hosts (`systemd-nspawn -b` containers in the lab hosts' namespaces, made by
/// `Scripts/nspawn`), installed by `Scripts/install` and run by systemd from the shipped units, as an SRE would.
@Suite(.serialized) struct SystemdLabTests {
    static let nspawn = Lab.repositoryRoot + "/Scripts/nspawn"

    /// An HTTP/1.0 server on :8080 answering "backend-ok", one process a connection (perl is in every Debian).
    static let backend = #"""
        use IO::Socket::INET;
        my $listener = IO::Socket::INET->new(LocalPort => 8080, Listen => 128, ReuseAddr => 1) or die "listen: $!";
        $SIG{CHLD} = 'IGNORE';
        while (1) {
            my $client = $listener->accept or next;
            if (fork() == 0) {
                while (my $line = <$client>) { last if $line =~ /^\r?\n$/ }
                print $client "HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nbackend-ok\n";
                close $client;
                exit 0;
            }
            close $client;
        }
        """#

    /// One booted host of the lab.
    struct BootedHost {
        let lab: Lab
        let host: LabHost
        let root: String

        /// Runs `command` in the container (as root, in all its namespaces).
        @discardableResult
        func run(_ command: [String], timeout: Duration = .seconds(60)) async throws -> CommandResult {
            try await Command.run([SystemdLabTests.nspawn, "exec", lab.name, host.name] + command, timeout: timeout)
        }

        func check(_ command: [String], timeout: Duration = .seconds(60)) async throws -> String {
            let result = try await run(command, timeout: timeout)
            guard result.succeeded else {
                throw LabError(
                    "\(host.name): \(command.joined(separator: " ")) exited \(result.status): \(result.stderr)\(result.stdout)"
                )
            }
            return result.stdout
        }

        /// A unit property as `systemctl show` gives it.
        func property(_ unit: String, _ name: String) async throws -> String {
            try await check(["systemctl", "show", unit, "-p", name, "--value"])
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// One HTTP call from the transient unit frontend.service (a client identity), through the mesh.
        func callBackend() async throws -> CommandResult {
            try await run(
                [
                    "systemd-run", "--quiet", "--wait", "--pipe", "--collect", "--unit=frontend", "curl", "-sS",
                    "-m", "3", "http://backend.weft:8080/",
                ], timeout: .seconds(15))
        }
    }

    func waitUntil(_ timeout: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(300))
        }
        return false
    }

    /// Boots `names` (each in its lab host), installs Weft into each, runs `body`, and powers every container off
    /// again, also when the body fails. Nil when containers cannot boot on this machine (said, not failed).
    func withBootedHosts<T: Sendable>(
        _ names: [String], _ body: @Sendable ([String: BootedHost]) async throws -> T
    ) async throws -> T? {
        try await Lab.withLab(hosts: names) { lab in
            let bin = URL(fileURLWithPath: try Lab.binary("weft-node")).deletingLastPathComponent().path
            var hosts: [String: BootedHost] = [:]
            do {
                for name in names {
                    let booted = try await Command.run(
                        [Self.nspawn, "boot", lab.name, name, bin], timeout: .seconds(600))
                    guard booted.succeeded else {
                        print("SKIPPED: no booted systemd container on this machine: \(booted.stderr)")
                        for host in hosts.keys { _ = try? await Command.run([Self.nspawn, "stop", lab.name, host]) }
                        return nil
                    }
                    let host = BootedHost(
                        lab: lab, host: lab.host(name),
                        root: booted.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
                    hosts[name] = host
                    try await Command.check(
                        [Lab.repositoryRoot + "/Scripts/install", "--from", bin, "--root", host.root])
                    _ = try await host.check(["systemd-sysusers"])
                    _ = try await host.check(["systemd-tmpfiles", "--create"])
                    _ = try await host.check(["systemctl", "daemon-reload"])
                }
                let result = try await body(hosts)
                for name in names { _ = try? await Command.run([Self.nspawn, "stop", lab.name, name]) }
                return result
            } catch {
                for (name, host) in hosts {
                    let journal = try? await host.run(["journalctl", "-b", "--no-pager", "-n", "120"])
                    print("---- journal of \(name):\n\(journal?.stdout ?? "?")")
                }
                for name in names { _ = try? await Command.run([Self.nspawn, "stop", lab.name, name]) }
                throw error
            }
        }
    }

    @Test func theUnitsRunTheMeshOnBootedHostsAndComeBackAfterAKillAndAReboot() async throws {
        _ = try await withBootedHosts(["cp", "a", "b"]) { hosts in
            let cp = hosts["cp"]!
            let a = hosts["a"]!
            let b = hosts["b"]!
            let started = ContinuousClock.now
            func step(_ text: String) { print("systemd lab \(ContinuousClock.now - started): \(text)") }

            // The control plane, as the README says: weftd.toml from the example, then enable --now.
            _ = try await cp.check(["systemctl", "enable", "--now", "weftd"], timeout: .seconds(60))
            #expect(try await cp.property("weftd", "ActiveState") == "active")
            #expect(try await cp.property("weftd", "StatusText").hasPrefix("serving"))
            step("weftd active")

            // weft-node on every host, the control-plane host too, joined with a token each.
            for host in [cp, a, b] {
                let created = try await cp.check(
                    ["weftctl", "node", "token", "create", "--name", host.host.name, "--ttl", "1h", "-o", "json"])
                let token = try #require(
                    (try JSONSerialization.jsonObject(with: Data(created.utf8)) as? [String: Any])?["token"] as? String)
                try "\(token)\n".write(toFile: host.root + "/etc/weft/join-token", atomically: true, encoding: .utf8)
                try """
                control_plane = "\(cp.host.ipv4):15012"
                join_token_file = "/etc/weft/join-token"
                node_name = "\(host.host.name)"
                """.write(toFile: host.root + "/etc/weft/node.toml", atomically: true, encoding: .utf8)
                _ = try await host.check(["chmod", "600", "/etc/weft/join-token"])
                _ = try await host.check(["systemctl", "enable", "--now", "weft-node"], timeout: .seconds(90))
                #expect(try await host.property("weft-node", "ActiveState") == "active")
                #expect(try await host.property("weft-node", "StatusText").hasPrefix("serving: node \(host.host.name)"))
            }
            step("three nodes active")

            // A backend unit on b, a frontend unit on a: frontend reaches backend by name through the mesh.
            // It reads each request before it answers (a server that answers and closes with the request unread
            // resets the connection, and can lose its own answer).
            try Self.backend.write(toFile: b.root + "/srv/backend.pl", atomically: true, encoding: .utf8)
            _ = try await b.check(["systemd-run", "--unit=backend", "perl", "/srv/backend.pl"])
            let reached = try await waitUntil(.seconds(40)) { try await a.callBackend().stdout == "backend-ok\n" }
            if !reached {
                let services = try await cp.run(["weftctl", "services", "list"])
                let nodes = try await cp.run(["weftctl", "nodes", "list"])
                for host in [a, b] {
                    let journal = try await host.run(["journalctl", "-u", "weft-node", "--no-pager", "-n", "60"])
                    print("---- weft-node on \(host.host.name):\n\(journal.stdout)")
                }
                print("---- services:\n\(services.stdout)\(services.stderr)\n---- nodes:\n\(nodes.stdout)")
            }
            let last = try await a.callBackend()
            try #require(reached, "frontend on a never reached backend on b: \(last)")
            step("frontend reaches backend")

            // Priorities reach journald: frontend's first call logged a warning (no certificate yet for a client).
            let warnings = try await a.check(["journalctl", "-u", "weft-node", "-p", "warning", "--no-pager"])
            #expect(warnings.contains("cannot obtain a certificate"), "\(warnings)")
            let errors = try await a.check(["journalctl", "-u", "weft-node", "-p", "err", "--no-pager"])
            #expect(!errors.contains("cannot obtain a certificate"), "a warning is not an error: \(errors)")
            #expect(!warnings.contains("thread priority"), "\(warnings)")

            // Hardened as shipped, scored by the systemd that runs it.
            for (host, unit, limit) in [(cp, "weftd.service", 2.0), (a, "weft-node.service", 2.5)] {
                let report = try await host.run(["systemd-analyze", "security", unit, "--no-pager"])
                let line = report.stdout.split(separator: "\n").last { $0.contains("Overall exposure level") } ?? ""
                let score = line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }
                #expect(score.map { $0 <= limit } == true, "\(unit): \(line)")
                step("\(unit): \(line)")
            }

            // Hitless: 200 new connections a second and 10 long-lived streams from a to b while systemd restarts
            // weft-node on b, then on a, then after a new binary is installed on a. Not one call may fail.
            for host in [a, b] {
                try FileManager.default.copyItem(
                    atPath: MeshLabTests.loadTool, toPath: host.root + "/srv/hitless_load.py")
            }
            _ = try await b.check(["systemd-run", "--unit=hitless", "python3", "/srv/hitless_load.py", "serve", "7070"])
            let served = try await waitUntil(.seconds(30)) {
                try await a.run(
                    [
                        "systemd-run", "--quiet", "--wait", "--pipe", "--collect", "--unit=load", "sh", "-c",
                        "printf 'ping 1\\n' | socat -t 2 - TCP:hitless.weft:7070",
                    ], timeout: .seconds(10)
                ).stdout == "pong 1\n"
            }
            // (from load.service: the load's identity has its certificate before the load starts)
            try #require(served, "hitless.weft:7070 never answered from a")
            _ = try await a.check([
                "systemd-run", "--unit=load", "-p", "StandardOutput=file:/srv/load.json", "-p", "StandardError=journal",
                "python3",
                "/srv/hitless_load.py", "load", "hitless.weft", "7070", "--rate", "200", "--streams", "10",
                "--control", "/srv/load.control", "--max-seconds", "120",
            ])
            let streaming = try await waitUntil(.seconds(20)) {
                try await a.check(["journalctl", "-u", "load", "--no-pager"]).contains("streams open: 10")
            }
            if !streaming {
                print(try await a.run(["journalctl", "-u", "load", "--no-pager"]).stdout)
                print(try await a.run(["systemctl", "status", "load", "--no-pager"]).stdout)
            }
            try #require(streaming, "the load never opened its streams")
            try await Task.sleep(for: .seconds(2))
            _ = try await b.check(["systemctl", "restart", "weft-node"], timeout: .seconds(60))
            try await Task.sleep(for: .seconds(3))
            _ = try await a.check(["systemctl", "restart", "weft-node"], timeout: .seconds(60))
            try await Task.sleep(for: .seconds(3))
            let bin = URL(fileURLWithPath: try Lab.binary("weft-node")).deletingLastPathComponent().path
            try await Command.check([Lab.repositoryRoot + "/Scripts/install", "--from", bin, "--root", a.root])
            _ = try await a.check(["systemctl", "restart", "weft-node"], timeout: .seconds(60))
            try await Task.sleep(for: .seconds(3))
            try "stop".write(toFile: a.root + "/srv/load.control", atomically: true, encoding: .utf8)
            let finished = try await waitUntil(.seconds(60)) {
                try await a.property("load", "ActiveState") != "active"
            }
            #expect(finished)
            let output = try String(contentsOfFile: a.root + "/srv/load.json", encoding: .utf8)
            let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("{") }, "\(output)")
            let summary = try JSONDecoder().decode(MeshLabTests.LoadSummary.self, from: Data(line.utf8))
            step("restarts on b and a and an upgrade under systemd: \(line)")
            #expect(summary.failures.isEmpty && summary.ok == summary.calls && summary.calls > 2_000, "\(line)")
            #expect(summary.streams.opened == 10 && summary.streams.intact == 10, "\(line)")
            #expect(try await a.property("weft-node", "ActiveState") == "active")
            #expect(try await b.property("weft-node", "ActiveState") == "active")
            if !summary.failures.isEmpty || summary.streams.intact != 10 {
                for host in [a, b] {
                    let journal = try await host.run(["journalctl", "-u", "weft-node", "--no-pager", "-o", "cat"])
                    print("---- weft-node on \(host.host.name):\n" + MeshLabTests.unusualLines(journal.stdout))
                }
            }

            // kill -9 of the main process: back by Restart=, and serving.
            let mainPID = try await a.property("weft-node", "MainPID")
            _ = try await a.check(["systemctl", "kill", "--kill-whom=main", "--signal=SIGKILL", "weft-node"])
            let back = try await waitUntil(.seconds(30)) {
                let pid = try await a.property("weft-node", "MainPID")
                let state = try await a.property("weft-node", "ActiveState")
                return pid != mainPID && pid != "0" && state == "active"
            }
            #expect(back, "weft-node on a did not come back after kill -9")
            #expect(try await a.property("weft-node", "NRestarts") == "1")
            #expect(try await waitUntil(.seconds(20)) { try await a.callBackend().stdout == "backend-ok\n" })
            step("back after kill -9")

            // Power off and boot: the enabled units start by themselves, and the mesh works again.
            _ = try await Command.check([Self.nspawn, "poweroff", a.lab.name, "a"], timeout: .seconds(60))
            _ = try await Command.check([Self.nspawn, "boot", a.lab.name, "a", bin, "--keep"], timeout: .seconds(60))
            let rebooted = try await waitUntil(.seconds(60)) {
                (try await a.property("weft-node", "ActiveState")) == "active"
            }
            #expect(rebooted, "weft-node did not start on boot")
            #expect(try await waitUntil(.seconds(30)) { try await a.callBackend().stdout == "backend-ok\n" })
            step("back after a reboot")
        }
    }
}
