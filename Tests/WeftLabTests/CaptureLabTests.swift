import Foundation
import Testing
import WeftCore
import WeftLabSupport

/// weft-node's capture in test hosts, with real nftables, sockets, cgroups and clients (socat, getent, dnsmasq).
@Suite(.serialized) struct CaptureLabTests {
    static let ipv6VIPRange = "2001:2:0:ff::/64"

    /// Host a runs weft-node with `web` (VIPs 240.0.0.7 and 2001:2:0:ff::7, port 80) backed by a socat listener on
    /// a:8080 in web.service, and `open` (PERMISSIVE) on a:8081; web's port is STRICT.
    func withNode<T: Sendable>(
        extraArguments: [String] = [], _ body: (Lab, LabHost, LabHost, LabProcess) async throws -> T
    ) async throws -> T {
        try await Lab.withLab(hosts: ["a", "b"]) { lab in
            let a = lab.host("a")
            let b = lab.host("b")
            let config = """
                {"version": 1, "node": "a", "mesh_mode": "strict",
                 "vip_ranges": ["240.0.0.0/4", "\(Self.ipv6VIPRange)"],
                 "services": [
                   {"name": "web", "ports": [80], "vip": "240.0.0.7",
                    "endpoints": [{"address": "\(a.ipv4)", "port": 8080, "node": "a"}]},
                   {"name": "web6", "ports": [80], "vip": "2001:2:0:ff::7",
                    "endpoints": [{"address": "\(a.ipv6)", "port": 8080, "node": "a"}]},
                   {"name": "open", "ports": [8081], "mesh_mode": "permissive",
                    "endpoints": [{"address": "\(a.ipv4)", "port": 8081, "node": "a"}]}]}
                """
            let configPath = "/run/weft-lab/\(lab.name)/node-a.json"
            try config.write(toFile: configPath, atomically: true, encoding: .utf8)
            _ = try await lab.spawn(
                ["socat", "-t", "5", "TCP6-LISTEN:8080,ipv6only=0,fork,reuseaddr", "SYSTEM:echo web"], on: a,
                unit: "web.service", name: "web")
            _ = try await lab.spawn(
                ["socat", "-t", "5", "TCP-LISTEN:8081,fork,reuseaddr", "SYSTEM:echo open"], on: a, unit: "open.service",
                name: "open")
            let node = try await lab.spawn(
                [
                    try Lab.binary("weft-node"), "run", "--static-config", configPath, "--services-dir", "/nonexistent",
                    "--identity-slice", a.identitySlice,
                ]
                    + extraArguments,
                on: a, name: "weft-node")
            try await node.waitForLog(containing: "weft-node ready")
            return try await body(lab, a, b, node)
        }
    }

    /// A client that half-closes at once without sending anything (see `LabHost.halfClosingCall`).
    func fetch(
        _ address: String, _ port: Int, from host: LabHost, unit: String? = nil, connectTimeout: Double = 3,
        times: Int = 1
    ) async throws -> CommandResult {
        try await host.halfClosingCall(address, port, unit: unit, connectTimeout: connectTimeout, times: times)
    }

    func accessLogLines(_ node: LabProcess, containing text: String, timeout: Duration = .seconds(5)) async throws
        -> [AccessLine]
    {
        try await node.waitForLog(containing: text, timeout: timeout)
        return node.log().split(separator: "\n").filter { $0.hasPrefix("{") && $0.contains(text) }
            .compactMap { try? JSONDecoder().decode(AccessLine.self, from: Data($0.utf8)) }
    }

    struct AccessLine: Decodable {
        var direction: String
        var result: String
        var original_destination: String
        var source_cgroup: String?
        var source_service: String?
        var reason: String?
    }

    @Test func outboundToAVIPReachesTheListenerWithOriginalDestinationAndClientCgroup() async throws {
        try await withNode { lab, a, _, node in
            let v4 = try await fetch("240.0.0.7", 80, from: a, unit: "frontend.service")
            #expect(v4.stdout == "web\n", "\(v4)")
            let line = try #require(
                try await accessLogLines(node, containing: "\"original_destination\":\"240.0.0.7:80\"").first)
            #expect(line.direction == "outbound" && line.result == "forwarded")
            #expect(line.source_cgroup == "weft-lab/\(lab.name)/a/system.slice/frontend.service")
            #expect(line.source_service == "frontend")

            let v6 = try await fetch("2001:2:0:ff::7", 80, from: a, unit: "frontend.service")
            #expect(v6.stdout == "web\n", "\(v6)")
            let line6 = try #require(
                try await accessLogLines(node, containing: "\"original_destination\":\"[2001:2:0:ff::7]:80\"").first)
            #expect(line6.result == "forwarded")
            #expect(line6.source_cgroup == "weft-lab/\(lab.name)/a/system.slice/frontend.service")
        }
    }

    @Test func inboundPlaintextIsRefusedOnStrictPortsAndPassedOnPermissiveOnes() async throws {
        try await withNode { _, a, b, node in
            let strict = try await fetch("\(a.ipv4)", 8080, from: b)
            #expect(strict.stdout.isEmpty, "a STRICT port must not answer plaintext: \(strict)")
            let refused = try await accessLogLines(node, containing: "port 8080 is STRICT")
            #expect(refused.first?.direction == "inbound_plaintext" && refused.first?.result == "refused")

            let permissive = try await fetch("\(a.ipv4)", 8081, from: b)
            #expect(permissive.stdout == "open\n", "\(permissive)")
            let passed = try await accessLogLines(node, containing: "\"original_destination\":\"\(a.ipv4):8081\"")
            #expect(passed.first?.result == "forwarded")

            // Dialling the listener directly is not a captured connection: reset, never relayed to itself.
            let direct = try await fetch("127.0.0.1", 15001, from: a)
            #expect(direct.stdout.isEmpty)
            try await node.waitForLog(containing: "not redirected by the capture")

            // HBONE's port is never captured: nothing listens there yet, so the connection is refused by the host.
            let hbone = try await a.run(["nft", "list", "chain", "inet", "weft", "prerouting"])
            #expect(hbone.stdout.contains("dport 15008 return"))
        }
    }

    /// The capture takes mesh endpoints by address and port: a non-mesh server on another host that happens to use
    /// a mesh service's port is reached directly, never through the node (it once took every host's traffic to it).
    @Test func onlyMeshEndpointsAreCapturedNotEveryAddressOnAServicePort() async throws {
        try await withNode { lab, a, b, node in
            _ = try await lab.spawn(
                ["socat", "-t", "5", "TCP-LISTEN:8080,fork,reuseaddr", "SYSTEM:echo plain b"], on: b,
                unit: "plain.service", name: "plain-b")
            let listed = try await a.run(["nft", "list", "set", "inet", "weft", "endpoints4"]).stdout
            #expect(listed.contains("\(a.ipv4) . 8080") && listed.contains("\(a.ipv4) . 8081"), "\(listed)")

            let other = try await fetch("\(b.ipv4)", 8080, from: a, unit: "frontend.service")
            #expect(other.stdout == "plain b\n", "\(other)")
            // A mesh call after it: once its access line is written, the other call would have been logged too.
            let mesh = try await fetch("\(a.ipv4)", 8081, from: a, unit: "frontend.service")
            #expect(mesh.stdout == "open\n", "\(mesh)")
            _ = try await accessLogLines(node, containing: "\"original_destination\":\"\(a.ipv4):8081\"")
            #expect(!node.log().contains("\(b.ipv4):8080"), "\(node.log().suffix(1500))")
        }
    }

    /// A client that half-closes right after connecting is served on the plain paths (outbound to a local endpoint,
    /// PERMISSIVE inbound) every time: the relay once raced the registration of the accepted channel and reset about
    /// one such connection in five.
    @Test func clientsThatHalfCloseAtOnceAreServedEveryTimeOnThePlainPaths() async throws {
        try await withNode { _, a, b, node in
            let outbound = try await fetch("240.0.0.7", 80, from: a, unit: "frontend.service", times: 200)
            #expect(
                outbound.stdout == String(repeating: "web\n", count: 200),
                "\(outbound.stderr); node: \(node.log().suffix(1000))")
            let inbound = try await fetch("\(a.ipv4)", 8081, from: b, times: 200)
            #expect(
                inbound.stdout == String(repeating: "open\n", count: 200),
                "\(inbound.stderr); node: \(node.log().suffix(1000))")
            #expect(!node.log().contains("cannot relay"))
        }
    }

    /// `nft list table inet weft` without the DNS lease's countdown (`expires 2s480ms`), which changes every tick.
    func listing(_ host: LabHost) async throws -> String {
        try await host.run(["nft", "list", "table", "inet", "weft"]).stdout
            .replacingOccurrences(of: #" expires [0-9a-z]+"#, with: "", options: .regularExpression)
    }

    @Test func deletedOrEditedTableIsRestoredWithinTwoSeconds() async throws {
        try await withNode { _, a, _, node in
            let installed = try await listing(a)
            for tamper in [
                ["delete", "table", "inet", "weft"], ["flush", "chain", "inet", "weft", "output"],
                ["delete", "element", "inet", "weft", "vip4", "{ 240.0.0.0/4 }"],
            ] {
                try await Command.check(["ip", "netns", "exec", a.namespace, "nft"] + tamper)
                let started = ContinuousClock.now
                var restored = false
                while ContinuousClock.now - started < .seconds(2) {
                    if try await listing(a) == installed {
                        restored = true
                        break
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(restored, "nft \(tamper.joined(separator: " ")) was not undone within 2 s")
                let after = try await fetch("240.0.0.7", 80, from: a)
                #expect(
                    after.stdout == "web\n",
                    "after nft \(tamper.joined(separator: " ")): \(after); node: \(node.log().suffix(1500))")
            }
        }
    }

    @Test func uninstallAndCleanupOnExitRestoreTheRulesetExactlyAndAnotherFilterTableKeepsWorking() async throws {
        try await Lab.withLab(hosts: ["a", "b"]) { lab in
            let a = lab.host("a")
            let b = lab.host("b")
            // A firewall of someone else's, as firewalld or docker would add: drops TCP to port 9000.
            try await Command.check([
                "ip", "netns", "exec", a.namespace, "nft",
                "add table inet fw; add chain inet fw input { type filter hook input priority 0; }; add rule inet fw input tcp dport 9000 drop",
            ])
            _ = try await lab.spawn(
                ["socat", "-t", "5", "TCP-LISTEN:9000,fork,reuseaddr", "SYSTEM:echo nine"], on: a, unit: "nine.service",
                name: "nine")
            _ = try await lab.spawn(
                ["socat", "-t", "5", "TCP-LISTEN:8080,fork,reuseaddr", "SYSTEM:echo web"], on: a, unit: "web.service",
                name: "web")
            let before = try await a.run(["nft", "list", "ruleset"]).stdout
            let node = try Lab.binary("weft-node")

            let install = try await a.run([node, "capture", "install", "--outbound-port", "8080"])
            #expect(install.succeeded && install.stdout.contains("installed table inet weft"), "\(install)")
            // Both tables act: the firewall still drops 9000 from b, the capture takes local 8080 (to :15001,
            // where nothing listens in this test, so the client is refused instead of reaching socat).
            let dropped = try await fetch("\(a.ipv4)", 9000, from: b, connectTimeout: 1)
            #expect(dropped.stdout.isEmpty)
            let captured = try await fetch("\(a.ipv4)", 8080, from: a)
            #expect(captured.stdout.isEmpty, "8080 should be redirected to the (absent) proxy: \(captured)")
            #expect(try await a.run(["nft", "list", "table", "inet", "fw"]).succeeded)

            let uninstall = try await a.run([node, "capture", "uninstall"])
            #expect(uninstall.stdout.contains("removed table inet weft"))
            #expect(try await a.run(["nft", "list", "ruleset"]).stdout == before)
            #expect(try await fetch("\(a.ipv4)", 8080, from: a).stdout == "web\n")
            #expect(try await a.run([node, "capture", "uninstall"]).stdout.contains("was not installed"))

            let running = try await lab.spawn(
                [node, "run", "--cleanup-on-exit", "--no-dns", "--identity-slice", a.identitySlice], on: a,
                name: "weft-node")
            try await running.waitForLog(containing: "weft-node ready")
            #expect(try await a.run(["nft", "list", "table", "inet", "weft"]).succeeded)
            running.signal(SIGTERM)
            try await running.waitForExit(timeout: .seconds(5))
            #expect(running.log().contains("capture removed"))
            #expect(try await a.run(["nft", "list", "ruleset"]).stdout == before)
        }
    }

    /// A node starts on a host with IPv6 off (a) and on one with no IPv4 address on its link (b): it listens on
    /// what exists, says what it skipped, and captured calls work on the stack that is there.
    @Test func aNodeRunsOnAnIPv4OnlyAndOnAnIPv6OnlyHost() async throws {
        try await Lab.withLab(hosts: ["a", "b"]) { lab in
            let b = lab.host("b")
            let off = try await lab.host("a").run(
                ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.lo.disable_ipv6=1"])
            let flushed = try await b.run(["ip", "-4", "addr", "flush", "dev", "eth0"])
            try #require(off.status == 0 && flushed.status == 0, "\(off) \(flushed)")
            var nodes: [LabProcess] = []
            for host in [lab.host("a"), b] {
                let endpoint = host.name == "a" ? "\(host.ipv4)" : "\(host.ipv6)"
                let vip = host.name == "a" ? "240.0.0.7" : "2001:2:0:ff::7"
                let configPath = "/run/weft-lab/\(lab.name)/node-\(host.name).json"
                try """
                {"version": 1, "node": "\(host.name)", "vip_ranges": ["240.0.0.0/4", "\(Self.ipv6VIPRange)"],
                 "services": [{"name": "web", "ports": [80], "vip": "\(vip)",
                               "endpoints": [{"address": "\(endpoint)", "port": 8080, "node": "\(host.name)"}]}]}
                """.write(toFile: configPath, atomically: true, encoding: .utf8)
                let listen = host.name == "a" ? "TCP-LISTEN:8080,fork,reuseaddr" : "TCP6-LISTEN:8080,fork,reuseaddr"
                _ = try await lab.spawn(
                    ["socat", listen, "SYSTEM:echo web"], on: host, unit: "web.service", name: "web")
                let node = try await lab.spawn(
                    [
                        try Lab.binary("weft-node"), "run", "--static-config", configPath, "--services-dir",
                        "/nonexistent", "--identity-slice", host.identitySlice, "--dns-upstream",
                        "\(endpoint == "\(host.ipv4)" ? "127.0.0.1:53" : "[::1]:53")",
                    ], on: host, name: "weft-node")
                try await node.waitForLog(containing: "weft-node ready")
                nodes.append(node)
            }
            #expect(nodes[0].log().contains("IPv6 is off on this host"), "\(nodes[0].log())")
            let v4 = try await lab.host("a").halfClosingCall("240.0.0.7", 80, unit: "client.service")
            #expect(v4.stdout == "web\n", "IPv4-only host: \(v4); \(nodes[0].log().suffix(800))")
            let v6 = try await b.halfClosingCall("2001:2:0:ff::7", 80, unit: "client.service")
            #expect(v6.stdout == "web\n", "IPv6-only host: \(v6); \(nodes[1].log().suffix(800))")
        }
    }

    @Test func resolverAnswersMeshNamesAndForwardsOthersToTheHostsResolver() async throws {
        try await Lab.withLab(hosts: ["a", "b"]) { lab in
            let a = lab.host("a")
            let b = lab.host("b")
            _ = try await lab.spawn(
                [
                    "dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--listen-address=\(b.ipv4)",
                    "--bind-interfaces",
                    "--address=/example.test/198.18.0.53", "--user=root", "--pid-file", "--log-queries",
                    "--log-facility=-",
                ],
                on: b, unit: "dnsmasq.service", name: "dnsmasq")
            try await lab.setNameServers([b.ipv4], on: a)
            let configPath = "/run/weft-lab/\(lab.name)/node-a.json"
            try """
            {"version": 1, "node": "a", "services": [{"name": "web", "ports": [80], "vip": "240.0.0.7", "endpoints": []}]}
            """.write(toFile: configPath, atomically: true, encoding: .utf8)
            let node = try await lab.spawn(
                [
                    try Lab.binary("weft-node"), "run", "--static-config", configPath, "--identity-slice",
                    a.identitySlice,
                ],
                on: a, name: "weft-node")
            try await node.waitForLog(containing: "weft-node ready")
            #expect(node.log().contains("upstreams=[IPv4]\(b.ipv4):53") || node.log().contains("\(b.ipv4):53"))

            // The libc resolver asks b's server on port 53; the capture sends it to weft-node's resolver.
            let mesh = try await a.run(["getent", "ahostsv4", "web.weft"], unit: "client.service")
            #expect(mesh.stdout.hasPrefix("240.0.0.7"), "\(mesh)")
            let other = try await a.run(["getent", "ahostsv4", "example.test"], unit: "client.service")
            #expect(other.stdout.hasPrefix("198.18.0.53"), "\(other)")
            let missing = try await a.run(["getent", "hosts", "nosuch.weft"])
            #expect(missing.status == 2, "NXDOMAIN: \(missing)")

            // Killed, weft-node renews the DNS lease no more: within its 3 s the host's own resolver answers again,
            // while the rest of the capture stays in place.
            node.signal(SIGKILL)
            try await node.waitForExit(timeout: .seconds(5))
            let killed = ContinuousClock.now
            var resolved = try await a.run(["getent", "ahostsv4", "example.test"], unit: "client.service")
            while !resolved.stdout.hasPrefix("198.18.0.53"), ContinuousClock.now - killed < .seconds(15) {
                try await Task.sleep(for: .milliseconds(200))
                resolved = try await a.run(["getent", "ahostsv4", "example.test"], unit: "client.service")
            }
            #expect(resolved.stdout.hasPrefix("198.18.0.53"), "after SIGKILL: \(resolved)")
            #expect(ContinuousClock.now - killed < .seconds(10), "resolved again after \(ContinuousClock.now - killed)")
            let table = try await a.run(["nft", "list", "set", "inet", "weft", "vip4"])
            #expect(table.stdout.contains("240.0.0.0/4"), "the capture is still installed: \(table)")
        }
    }

    @Test func discoveryFindsAListenerInItsOwnCgroup() async throws {
        try await Lab.withLab(hosts: ["a"]) { lab in
            let a = lab.host("a")
            _ = try await lab.spawn(
                ["socat", "-t", "5", "TCP-LISTEN:7070,fork,reuseaddr", "SYSTEM:echo inv"], on: a,
                unit: "inventory.service", name: "inventory")
            let node = try Lab.binary("weft-node")
            var found = ""
            for _ in 0..<50 {
                found = try await a.run([
                    node, "discover", "--json", "--services-dir", "/nonexistent", "--identity-slice", a.identitySlice,
                ]).stdout
                if found.contains("inventory") { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let line = try #require(found.split(separator: "\n").first { $0.contains("\"inventory\"") }, "\(found)")
            #expect(line.contains("\"ports\":[7070]"))
            #expect(line.contains("\"cgroup\":\"weft-lab\\/\(lab.name)\\/a\\/system.slice\\/inventory.service\""))

            let directory = "/run/weft-lab/\(lab.name)/services.d"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try "name = \"stock\"\nunit = \"inventory.service\"\nprotocol = \"http\"\n".write(
                toFile: directory + "/stock.toml", atomically: true, encoding: .utf8)
            try "name = \"broken\"\nports = [0]\n".write(
                toFile: directory + "/broken.toml", atomically: true, encoding: .utf8)
            let overridden = try await a.run([
                node, "discover", "--json", "--services-dir", directory, "--identity-slice", a.identitySlice,
            ])
            #expect(
                overridden.stdout.contains("\"name\":\"stock\"") && overridden.stdout.contains("\"protocol\":\"http\""))
            #expect(overridden.stderr.contains("\(directory)/broken.toml:2: ports: 0 is not a port number"))
        }
    }
}
