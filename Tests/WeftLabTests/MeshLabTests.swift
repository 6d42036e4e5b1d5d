import Foundation
import Testing
import WeftCore
import WeftLabSupport

/// The mesh across test hosts: weftd on `cp`, weft-node joined with a token on `a` and `b`, plain workloads in their
/// own cgroups (frontend.service on a, backend.service and stream.service on b) that know nothing of Weft.
@Suite(.serialized) struct MeshLabTests {
    struct Mesh {
        let lab: Lab
        let cp: LabHost, a: LabHost, b: LabHost
        let weftd: LabProcess, nodeA: LabProcess, nodeB: LabProcess
        /// backend.service on b, and how it is started (again).
        let backend: LabProcess
        let backendCommand: [String]
        let adminToken: String
        /// How weftd and weft-node on a host are started (again, for restarts).
        let weftdCommand: [String]
        let nodeCommand: @Sendable (LabHost) -> [String]

        /// weftctl on the control-plane host; JSON output parsed when `json`.
        @discardableResult
        func weftctl(_ arguments: [String]) async throws -> CommandResult {
            try await cp.run(
                ["env", "WEFT_ADDR=http://127.0.0.1:15443", "WEFT_TOKEN=\(adminToken)", try Lab.binary("weftctl")]
                    + arguments)
        }

        /// An HTTP GET from frontend.service on host a (curl, so the name goes through the mesh DNS).
        func get(_ url: String, header: String? = nil, timeout: String = "3") async throws -> CommandResult {
            var command = ["curl", "-sS", "-m", timeout, url]
            if let header { command += ["-H", header] }
            return try await a.run(command, unit: "frontend.service", timeout: .seconds(10))
        }
    }

    /// Starts the mesh and waits until frontend reaches backend (its first call also obtains frontend's identity).
    func withMesh<T: Sendable>(
        weftdArguments: [String] = [], nodeArguments: [String] = [], extraHosts: [String] = [],
        _ body: (Mesh) async throws -> T
    ) async throws -> T {
        try await Lab.withLab(hosts: ["cp", "a", "b"] + extraHosts) { lab in
            let cp = lab.host("cp")
            let a = lab.host("a")
            let b = lab.host("b")
            let dir = "/run/weft-lab/\(lab.name)"
            try "HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nbackend-ok\n".write(
                toFile: "\(dir)/response", atomically: true, encoding: .utf8)
            let weftdCommand =
                [
                    try Lab.binary("weftd"), "--data-dir", "\(dir)/weftd", "--node-listen", "0.0.0.0:15012",
                    "--join-listen", "0.0.0.0:15013", "--admin-listen", "127.0.0.1:15443", "--admin-plaintext",
                    "--server-name", cp.ipv4.description,
                ] + weftdArguments
            // In its own unit, as systemd runs it: a weft-node on cp would find its listeners.
            let weftd = try await lab.spawn(weftdCommand, on: cp, unit: "weftd.service", name: "weftd")
            try await weftd.waitForLog(containing: "weftd ready", timeout: .seconds(20))
            let adminToken = try String(contentsOfFile: "\(dir)/weftd/admin-token", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            // Node a is configured by flags, node b by a node.toml (as the systemd unit does with /etc/weft/node.toml).
            let nodeBinary = try Lab.binary("weft-node")
            try """
            # weft-node settings for host b
            node_name = "b"
            control_plane = "\(cp.ipv4):15012"
            join_token_file = "\(dir)/join-token-b"
            state_dir = "\(dir)/node-b"
            services_dir = "/nonexistent"
            dns_upstreams = ["\(cp.ipv4):53"]
            identity_slices = ["\(b.identitySlice)"]
            cleanup_on_exit = true
            """.write(toFile: "\(dir)/node-b.toml", atomically: true, encoding: .utf8)
            let nodeCommand: @Sendable (LabHost) -> [String] = { host in
                if host.name == "b" { return [nodeBinary, "run", "--config", "\(dir)/node-b.toml"] + nodeArguments }
                return [
                    nodeBinary, "run", "--control-plane", "\(cp.ipv4):15012", "--state-dir", "\(dir)/node-\(host.name)",
                    "--node-name", host.name, "--services-dir", "/nonexistent", "--dns-upstream", "\(cp.ipv4):53",
                    "--cleanup-on-exit", "--identity-slice", host.identitySlice,
                ] + nodeArguments
            }
            var nodes: [LabProcess] = []
            for host in [a, b] {
                let created = try await cp.run(
                    [
                        "env", "WEFT_ADDR=http://127.0.0.1:15443", "WEFT_TOKEN=\(adminToken)",
                        try Lab.binary("weftctl"),
                        "node", "token", "create", "--name", host.name, "--ttl", "1h", "-o", "json",
                    ])
                let token = try #require(
                    (try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])?["token"]
                        as? String,
                    "\(created)")
                try token.write(toFile: "\(dir)/join-token-\(host.name)", atomically: true, encoding: .utf8)
                let join = host.name == "b" ? [] : ["--join-token-file", "\(dir)/join-token-\(host.name)"]
                nodes.append(try await lab.spawn(nodeCommand(host) + join, on: host, name: "weft-node"))
            }
            // -t 5: after the client's FIN, socat waits up to 5 s (not 0.5 s) for the answer before closing.
            let backendCommand = ["socat", "-t", "5", "TCP-LISTEN:8080,fork,reuseaddr", "SYSTEM:cat \(dir)/response"]
            let backend = try await lab.spawn(backendCommand, on: b, unit: "backend.service", name: "backend")
            _ = try await lab.spawn(
                ["socat", "TCP-LISTEN:9090,fork,reuseaddr", "SYSTEM:while true; do echo tick; sleep 0.2; done"],
                on: b, unit: "stream.service", name: "stream")
            let mesh = Mesh(
                lab: lab, cp: cp, a: a, b: b, weftd: weftd, nodeA: nodes[0], nodeB: nodes[1], backend: backend,
                backendCommand: backendCommand, adminToken: adminToken, weftdCommand: weftdCommand,
                nodeCommand: nodeCommand)
            let deadline = ContinuousClock.now + .seconds(20)
            var last: CommandResult?
            while ContinuousClock.now < deadline {
                last = try await mesh.get("http://backend.weft:8080/")
                if last?.stdout == "backend-ok\n" { break }
                try await Task.sleep(for: .milliseconds(300))
            }
            try #require(
                last?.stdout == "backend-ok\n",
                "frontend never reached backend through the mesh: \(String(describing: last))")
            return try await body(mesh)
        }
    }

    struct AccessLine: Decodable {
        var direction: String
        var result: String
        var reason: String?
        var source_service: String?
        var source_identity: String?
        var source_cgroup: String?
        var destination_service: String?
        var tunnel_node: String?
        var request_id: String?
    }

    func accessLines(_ node: LabProcess) -> [AccessLine] {
        node.log().split(separator: "\n").filter { $0.hasPrefix("{") }
            .compactMap { try? JSONDecoder().decode(AccessLine.self, from: Data($0.utf8)) }
    }

    @Test func frontendReachesBackendOnAnotherNodeByNameAndByVIPThroughAnMTLSTunnel() async throws {
        try await withMesh { mesh in
            let listed = try await mesh.weftctl(["services", "list", "-o", "json"])
            let services = try #require(
                try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], "\(listed)")
            let vip = try #require(
                services.first { $0["name"] as? String == "backend" }?["vip"] as? String, "\(listed)")
            #expect(try await mesh.get("http://\(vip):8080/").stdout == "backend-ok\n")

            let outbound = try #require(
                accessLines(mesh.nodeA).last { $0.direction == "outbound" && $0.result == "forwarded" })
            #expect(
                outbound.source_service == "frontend" && outbound.destination_service == "backend"
                    && outbound.tunnel_node == "b")
            let requestID = try #require(outbound.request_id)
            try await mesh.nodeB.waitForLog(containing: requestID)
            let inbound = try #require(accessLines(mesh.nodeB).first { $0.request_id == requestID })
            #expect(inbound.direction == "inbound" && inbound.result == "forwarded")
            #expect(inbound.source_identity == "spiffe://weft.local/ns/default/svc/frontend")

            let metrics = try await mesh.a.run(["curl", "-sS", "http://127.0.0.1:15020/metrics"])
            #expect(
                metrics.stdout.contains(
                    #"weft_tcp_connections_closed_total{reporter="source",source_service="frontend",destination_service="backend"}"#
                ))
            #expect(
                metrics.stdout.contains(
                    #"weft_http_requests_total{reporter="source",source_service="frontend",destination_service="backend"}"#
                ), "\(metrics.stdout)")
            let served = try await mesh.b.run(["curl", "-sS", "http://127.0.0.1:15020/metrics"])
            #expect(
                served.stdout.contains(
                    #"weft_http_requests_total{reporter="destination",source_service="frontend",destination_service="backend"}"#
                ))
            let ready = try await mesh.b.run(["curl", "-sS", "http://127.0.0.1:15020/readyz"])
            #expect(ready.stdout == "ready\n", "\(ready)")

            // The node's own connection to weftd carries the capture's mark, so its rules never capture it.
            let link = try await mesh.a.run(["ss", "-Htne", "state", "established", "dst", "\(mesh.cp.ipv4):15012"])
            #expect(link.stdout.contains("fwmark:0x5745"), "\(link)")
            // Both ends of the tunnel connection probe an idle peer, so a vanished node is noticed.
            let tunnelA = try await mesh.a.run(["ss", "-Htno", "state", "established", "dport", "= :15008"])
            let tunnelB = try await mesh.b.run(["ss", "-Htno", "state", "established", "sport", "= :15008"])
            #expect(
                tunnelA.stdout.contains("timer:(keepalive") && tunnelB.stdout.contains("timer:(keepalive"),
                "\(tunnelA)\n\(tunnelB)")
        }
    }

    @Test func theWireBetweenTheHostsCarriesNoPlaintext() async throws {
        try await withMesh { mesh in
            let capture = "/run/weft-lab/\(mesh.lab.name)/wire.pcap"
            let dump = try await mesh.lab.spawn(
                ["tcpdump", "--immediate-mode", "-i", "eth0", "-U", "-w", capture, "tcp"], on: mesh.b, name: "tcpdump")
            try await Task.sleep(for: .milliseconds(800))
            let marker = "weft-marker-\(UUID().uuidString)"
            let answer = try await mesh.get("http://backend.weft:8080/", header: "X-Marker: \(marker)")
            #expect(
                answer.stdout == "backend-ok\n",
                "\(answer)\na: \(mesh.nodeA.log().suffix(2500))\nb: \(mesh.nodeB.log().suffix(1500))")
            try await Task.sleep(for: .milliseconds(500))
            await dump.terminate()
            let bytes = try Data(contentsOf: URL(fileURLWithPath: capture))
            #expect(bytes.count > 1000, "the capture should hold the tunnelled request")
            #expect(bytes.range(of: Data(marker.utf8)) == nil, "the request's marker crossed the wire in plaintext")
            #expect(bytes.range(of: Data("backend-ok".utf8)) == nil, "the response crossed the wire in plaintext")
        }
    }

    @Test func denyStopsCallsWithinASecondAllowRestoresThemAndStopAllClosesALiveStream() async throws {
        try await withMesh { mesh in
            try await mesh.weftctl(["intention", "deny", "frontend", "backend"])
            try await Task.sleep(for: .seconds(1))
            let denied = try await mesh.get("http://backend.weft:8080/")
            #expect(denied.stdout.isEmpty && denied.status != 0, "\(denied)")
            try await mesh.nodeA.waitForLog(containing: "denied by intention frontend>backend", timeout: .seconds(3))
            #expect(
                accessLines(mesh.nodeA).contains {
                    $0.result == "refused" && ($0.reason ?? "").contains("denied by intention frontend>backend")
                })

            try await mesh.weftctl(["intention", "allow", "frontend", "backend"])
            try await Task.sleep(for: .seconds(1))
            let allowed = try await mesh.get("http://backend.weft:8080/")
            #expect(
                allowed.stdout == "backend-ok\n",
                "\(allowed); node a: \(mesh.nodeA.log().suffix(1500)); node b: \(mesh.nodeB.log().suffix(1500))")

            let stream = try await mesh.lab.spawn(
                ["socat", "-u", "TCP:stream.weft:9090", "STDOUT"], on: mesh.a, unit: "frontend.service",
                name: "long-stream")
            try await stream.waitForLog(containing: "tick\ntick\ntick", timeout: .seconds(10))
            let stopped = ContinuousClock.now
            try await mesh.weftctl(["mesh", "stop-all"])
            try await stream.waitForExit(timeout: .seconds(3))
            let took = ContinuousClock.now - stopped
            #expect(took < .milliseconds(1500), "the live stream ended \(took) after stop-all")
            #expect(try await mesh.get("http://backend.weft:8080/").stdout.isEmpty)

            try await mesh.weftctl(["mesh", "resume"])
            try await Task.sleep(for: .seconds(1))
            #expect(try await mesh.get("http://backend.weft:8080/").stdout == "backend-ok\n")
        }
    }

    @Test func defaultDenyStopsFrontendWithinASecondAndAnAllowIntentionLetsItThrough() async throws {
        try await withMesh { mesh in
            // A new mesh allows all traffic (withMesh already called backend).
            try await mesh.weftctl(["mesh", "default", "deny"])
            let denied = try await waitUntil(.seconds(3), every: .milliseconds(100)) {
                try await mesh.get("http://backend.weft:8080/", timeout: "0.5").stdout.isEmpty
            }
            #expect(try #require(denied, "default deny never took effect") < .seconds(1))
            try await mesh.weftctl(["intention", "allow", "frontend", "backend"])
            let allowed = try await waitUntil(.seconds(3), every: .milliseconds(100)) {
                try await mesh.get("http://backend.weft:8080/", timeout: "0.5").stdout == "backend-ok\n"
            }
            #expect(
                try #require(allowed, "the allow intention never took effect: \(mesh.nodeA.log().suffix(1500))")
                    < .seconds(1))
        }
    }

    @Test func clientsThatHalfCloseOrLeaveAtOnceAreServedAndLeaveNothingBehind() async throws {
        try await withMesh { mesh in
            // Request then FIN at once: the bytes and the FIN arrive while the tunnel stream is being opened.
            for attempt in 1...10 {
                let answer = try await mesh.a.halfClosingCall(
                    "backend.weft", 8080, sending: "GET / HTTP/1.0\r\n\r\n", unit: "frontend.service", readTimeout: 3,
                    timeout: .seconds(10))
                #expect(
                    answer.stdout.hasSuffix("\r\n\r\nbackend-ok\n"),
                    "half-closing client \(attempt): \(answer); node a: \(mesh.nodeA.log().suffix(800))")
            }
            // Connect and close at once.
            for _ in 1...10 {
                _ = try await mesh.a.run(
                    ["socat", "-u", "/dev/null", "TCP:backend.weft:8080"], unit: "frontend.service")
            }
            let leftOver = try await waitUntil(.seconds(5), every: .milliseconds(200)) {
                let sockets = try await mesh.a.run(["ss", "-Htn", "state", "close-wait"])
                return sockets.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            }
            let stuck = try await mesh.a.run(["ss", "-tn", "state", "close-wait"]).stdout
            #expect(leftOver != nil, "captured sockets stuck in CLOSE-WAIT: \(stuck)")
        }
    }

    /// Only a service unit directly in a trusted slice is an identity. A user's own `frontend.service` (in their
    /// user manager's delegated, user-owned subtree), a `frontend.service` cgroup a system service made below
    /// itself, and a process in no unit all call as no workload: STRICT refuses them at b, PERMISSIVE lets them
    /// through unmeshed (egress policy), and none of them is ever given frontend's certificate.
    @Test func onlyTrustedUnitsAreIdentitiesNotAUsersUnitOrADelegatedSubtree() async throws {
        try await withMesh { mesh in
            let user = "user.slice/user-1000.slice/user@1000.service"
            let directory = "\(mesh.lab.cgroupDirectory)/a/\(user)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            #expect(chown(directory, 1000, 1000) == 0)
            let impostors = [
                "\(user)/app.slice/frontend.service", "system.slice/runner.service/frontend.service",
                "user.slice/user-1000.slice/session-4.scope",
            ]
            func call(from cgroup: String) async throws -> CommandResult {
                try await mesh.a.run(
                    ["curl", "-sS", "-m", "3", "http://backend.weft:8080/"], cgroup: cgroup, timeout: .seconds(10))
            }
            for cgroup in impostors {
                let refused = try await call(from: cgroup)
                #expect(refused.stdout.isEmpty && refused.status != 0, "STRICT, from \(cgroup): \(refused)")
            }
            #expect(try await mesh.get("http://backend.weft:8080/").stdout == "backend-ok\n", "the real frontend")

            try await mesh.weftctl(["mesh", "mode", "permissive"])
            let passes = try await waitUntil(.seconds(5), every: .milliseconds(200)) {
                try await call(from: impostors[0]).stdout == "backend-ok\n"
            }
            #expect(passes != nil, "PERMISSIVE: a process that is no workload passes unmeshed")
            for cgroup in impostors {
                let lines = accessLines(mesh.nodeA).filter { $0.source_cgroup?.hasSuffix(cgroup) == true }
                #expect(!lines.isEmpty, "no access line for \(cgroup)")
                for line in lines {
                    #expect(line.source_service == nil && line.source_identity == nil, "\(cgroup): \(line)")
                    #expect(line.tunnel_node == nil, "never through a tunnel as someone: \(line)")
                }
            }
            let certificates = try await mesh.a.run(["curl", "-s", "http://127.0.0.1:15020/certs"]).stdout
            #expect(certificates.components(separatedBy: "svc/frontend").count == 2, "one frontend certificate")
        }
    }

    /// One client port used again to another VIP while the first connection's conntrack entry lingers: netfilter
    /// remaps the second connection's source port, so sock_diag finds no socket by the accepted 4-tuple. The node
    /// finds the client's own port in conntrack: both calls go as frontend through the tunnel, in both mesh modes,
    /// and nothing crosses the wire in plaintext (a capture on a's side of the wire sees no 8080 or 9090).
    @Test func aRemappedSourcePortStillCallsAsItsServiceAndNeverInPlaintext() async throws {
        try await withMesh { mesh in
            _ = try await openStream(mesh, name: "stream-ready")
            let client = """
                import socket, sys
                port = int(sys.argv[1])
                for host, service_port, request in [("backend.weft", 8080, b"GET / HTTP/1.0\\r\\n\\r\\n"), ("stream.weft", 9090, b"")]:
                    s = socket.socket()
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("0.0.0.0", port))
                    s.settimeout(3)
                    try:
                        s.connect((host, service_port))
                        s.sendall(request)
                        print(host, repr(s.recv(200)))
                    except OSError as error:
                        print(host, "failed", error)
                    s.close()
                """
            let wire = try await mesh.lab.spawn(
                [
                    "tcpdump", "-i", "eth0", "-n", "-l", "tcp port 8080 or tcp port 9090",
                ], on: mesh.a, name: "wire")
            try await wire.waitForLog(containing: "listening on", timeout: .seconds(10))
            for (mode, port) in [("strict", 40_000), ("permissive", 40_001)] {
                try await mesh.weftctl(["mesh", "mode", mode])
                let calls = try await mesh.a.run(
                    ["python3", "-c", client, "\(port)"], unit: "frontend.service", timeout: .seconds(20))
                #expect(
                    calls.stdout.contains("backend.weft b'HTTP/1.0 200 OK"),
                    "\(mode): \(calls); node a: \(mesh.nodeA.log().suffix(1500)); node b: \(mesh.nodeB.log().suffix(1500))"
                )
                #expect(calls.stdout.contains("stream.weft b'tick"), "\(mode), the remapped call: \(calls)")
            }
            // The stream probe's calls, then one call per mode (each line written when its call ends).
            let streamCalls = { [self] in
                accessLines(mesh.nodeA).filter {
                    $0.direction == "outbound" && $0.destination_service == "stream"
                        && $0.source_cgroup?.hasSuffix("frontend.service") == true
                }
            }
            let logged = try await waitUntil(.seconds(5), every: .milliseconds(100)) { streamCalls().count >= 3 }
            #expect(logged != nil, "\(streamCalls())")
            for line in streamCalls() {
                #expect(line.source_service == "frontend" && line.tunnel_node == "b", "\(line)")
            }
            await wire.terminate()
            let captured = wire.log().split(separator: "\n").filter { $0.contains(" IP") }
            #expect(captured.isEmpty, "plaintext on the wire: \(captured.prefix(5))")
        }
    }

    @Test func aHostOutsideTheMeshIsRefusedInStrictModeAndPassesInPermissive() async throws {
        try await withMesh { mesh in
            let strict = try await mesh.cp.run(["curl", "-sS", "-m", "3", "http://\(mesh.b.ipv4):8080/"])
            #expect(strict.stdout.isEmpty && strict.status != 0, "\(strict)")
            try await mesh.weftctl(["mesh", "mode", "permissive"])
            try await Task.sleep(for: .seconds(1))
            let permissive = try await mesh.cp.run(["curl", "-sS", "-m", "3", "http://\(mesh.b.ipv4):8080/"])
            #expect(permissive.stdout == "backend-ok\n", "\(permissive)")
        }
    }

    @Test func aNodesEgressPolicyPassesOrRefusesCallsToNoMeshServiceWithinASecond() async throws {
        // Port 8080 captured at every address on a (only when asked: by default only mesh endpoints are captured).
        try await withMesh(nodeArguments: ["--outbound-port", "8080"]) { mesh in
            // Outside the mesh: a server on cp (no weft-node there) on 8080, a port a's capture takes.
            _ = try await mesh.lab.spawn(
                [
                    "socat", "-t", "5", "TCP-LISTEN:8080,fork,reuseaddr",
                    "SYSTEM:echo HTTP/1.0 200 OK; echo; echo outside-ok",
                ],
                on: mesh.cp, unit: "outside.service", name: "outside")
            let outside = "http://\(mesh.cp.ipv4):8080/"
            let passed = try await waitUntil(.seconds(5), every: .milliseconds(100)) {
                try await mesh.get(outside, timeout: "1").stdout == "outside-ok\n"
            }
            #expect(passed != nil, "the mesh default (passthrough) relays it unmeshed: \(mesh.nodeA.log().suffix(800))")

            try await mesh.weftctl(["nodes", "egress", "a", "refuse"])
            let refused = try await waitUntil(.seconds(3), every: .milliseconds(50)) {
                try await mesh.get(outside, timeout: "1").stdout.isEmpty
            }
            #expect(try #require(refused, "egress refuse never took effect") < .seconds(1))
            try await mesh.nodeA.waitForLog(containing: "is not a mesh service and egress is refused on this node")
            #expect(
                try await mesh.get("http://backend.weft:8080/").stdout == "backend-ok\n", "mesh services are not egress"
            )

            try await mesh.weftctl(["nodes", "egress", "a", "mesh"])
            let restored = try await waitUntil(.seconds(3), every: .milliseconds(50)) {
                try await mesh.get(outside, timeout: "1").stdout == "outside-ok\n"
            }
            #expect(try #require(restored, "following the mesh default again never took effect") < .seconds(1))
        }
    }

    /// An impostor with a certificate that names frontend but comes from another CA (openssl, on the non-mesh host cp)
    /// gets no tunnel: node b refuses the handshake and says why in its access log.
    @Test func aCertificateFromAnotherCAIsRefusedAtTheHBONEPort() async throws {
        try await withMesh { mesh in
            let dir = "/run/weft-lab/\(mesh.lab.name)/impostor"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
            try await Command.check(
                ["openssl", "req", "-x509"] + ec + [
                    "-keyout", "\(dir)/ca.key", "-out", "\(dir)/ca.pem",
                    "-subj", "/CN=not the mesh CA", "-days", "1",
                ])
            try await Command.check(
                ["openssl", "req"] + ec + [
                    "-keyout", "\(dir)/leaf.key", "-out", "\(dir)/leaf.csr", "-subj", "/CN=frontend",
                ])
            try "subjectAltName=URI:spiffe://weft.local/ns/default/svc/frontend\n".write(
                toFile: "\(dir)/ext", atomically: true, encoding: .utf8)
            try await Command.check([
                "openssl", "x509", "-req", "-in", "\(dir)/leaf.csr", "-CA", "\(dir)/ca.pem", "-CAkey", "\(dir)/ca.key",
                "-CAcreateserial", "-out", "\(dir)/leaf.pem", "-days", "1", "-extfile", "\(dir)/ext",
            ])

            let attempt = try await mesh.cp.run(
                [
                    "timeout", "5", "openssl", "s_client", "-connect", "\(mesh.b.ipv4):15008", "-tls1_3", "-alpn", "h2",
                    "-cert", "\(dir)/leaf.pem", "-key", "\(dir)/leaf.key", "-ign_eof",
                ], timeout: .seconds(10))
            #expect(attempt.stdout.contains("Verify return code") || attempt.stderr.contains("alert"), "\(attempt)")
            try await mesh.nodeB.waitForLog(containing: "mTLS: ")
            let refusal = try #require(accessLines(mesh.nodeB).first { $0.reason?.hasPrefix("mTLS: ") == true })
            #expect(refusal.direction == "inbound" && refusal.result == "refused", "\(refusal)")
            #expect(
                refusal.reason?.contains("spiffe://weft.local/ns/default/svc/frontend' is not trusted") == true,
                "\(refusal)")
            #expect(
                !accessLines(mesh.nodeB).contains {
                    $0.direction == "inbound" && $0.result == "forwarded" && $0.source_identity == nil
                })
        }
    }

    /// A long-running stream from frontend (a) to stream.service (b): a tick every 0.2 s.
    func openStream(_ mesh: Mesh, name: String = "long-stream") async throws -> LabProcess {
        // stream.service may be registered a moment after backend (withMesh waited for backend only).
        let reachable = try await waitUntil(.seconds(10), every: .milliseconds(200)) {
            try await mesh.a.run(
                ["timeout", "0.6", "socat", "-u", "TCP:stream.weft:9090,connect-timeout=0.5", "STDOUT"],
                unit: "frontend.service", timeout: .seconds(5)
            ).stdout.contains("tick")
        }
        try #require(reachable != nil, "stream.weft:9090 never answered")
        let stream = try await mesh.lab.spawn(
            ["socat", "-u", "TCP:stream.weft:9090", "STDOUT"], on: mesh.a, unit: "frontend.service", name: name)
        try await stream.waitForLog(containing: "tick\ntick\ntick", timeout: .seconds(10))
        return stream
    }

    /// True when `stream` is still running and received ticks in the last second.
    func stillTicking(_ stream: LabProcess) async throws -> Bool {
        let before = stream.log().count
        try await Task.sleep(for: .seconds(1))
        return stream.isRunning && stream.log().count > before
    }

    func waitUntil(
        _ timeout: Duration, every interval: Duration = .milliseconds(100), _ condition: () async throws -> Bool
    ) async throws -> Duration? {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < timeout {
            if try await condition() { return ContinuousClock.now - start }
            try await Task.sleep(for: interval)
        }
        return nil
    }

    @Test func aCallerOnTheSameHostGoesDirectWithAuthorizationAndTelemetry() async throws {
        try await withMesh { mesh in
            let local = try await mesh.b.run(
                ["curl", "-sS", "-m", "3", "http://backend.weft:8080/"], unit: "reporter.service")
            #expect(local.stdout == "backend-ok\n", "\(local)")
            try await mesh.nodeB.waitForLog(containing: #""source_service":"reporter""#, timeout: .seconds(3))
            let line = try #require(
                accessLines(mesh.nodeB).last { $0.direction == "outbound" && $0.source_service == "reporter" })
            #expect(line.result == "forwarded" && line.tunnel_node == nil && line.destination_service == "backend")
            let metrics = try await mesh.b.run(["curl", "-sS", "http://127.0.0.1:15020/metrics"])
            #expect(
                metrics.stdout.contains(
                    #"weft_tcp_connections_opened_total{reporter="source",source_service="reporter",destination_service="backend"}"#
                ))

            try await mesh.weftctl(["intention", "deny", "reporter", "backend"])
            try await Task.sleep(for: .seconds(1))
            let denied = try await mesh.b.run(
                ["curl", "-sS", "-m", "3", "http://backend.weft:8080/"], unit: "reporter.service")
            #expect(denied.stdout.isEmpty && denied.status != 0, "\(denied)")
            #expect(
                try await mesh.get("http://backend.weft:8080/").stdout == "backend-ok\n",
                "the deny is for reporter only")
        }
    }

    @Test func withWeftdDownConnectionsKeepWorkingAndNodesResyncWhenItIsBack() async throws {
        try await withMesh { mesh in
            let stream = try await openStream(mesh, name: "stream-to-b")
            await mesh.weftd.terminate()
            #expect(try await stillTicking(stream), "an open stream must survive the control plane going away")
            #expect(
                try await mesh.get("http://backend.weft:8080/").stdout == "backend-ok\n",
                "new connections use the last good config")
            // A node that starts while the control plane is away serves from its state directory.
            await mesh.nodeA.terminate()
            let restarted = try await mesh.lab.spawn(mesh.nodeCommand(mesh.a), on: mesh.a, name: "weft-node-offline")
            let served = try await waitUntil(.seconds(10)) {
                try await mesh.get("http://backend.weft:8080/").stdout == "backend-ok\n"
            }
            #expect(
                served != nil,
                "a node restarted without weftd must serve its last good config: \(restarted.log().suffix(2000))")

            let again = try await mesh.lab.spawn(mesh.weftdCommand, on: mesh.cp, name: "weftd-again")
            try await again.waitForLog(containing: "weftd ready", timeout: .seconds(20))
            try await mesh.weftctl(["intention", "deny", "frontend", "backend"])
            let resynced = try await waitUntil(.seconds(40), every: .milliseconds(250)) {
                try await mesh.get("http://backend.weft:8080/").stdout.isEmpty
            }
            #expect(resynced != nil, "node a never followed a change made after weftd came back")
        }
    }

    @Test func aRestartedNodeHasCaptureAndTrafficBackWithinTwoSeconds() async throws {
        try await withMesh { mesh in
            await mesh.nodeA.terminate()
            #expect(
                try await mesh.a.run(["nft", "list", "table", "inet", "weft"]).status != 0,
                "--cleanup-on-exit removes the table")
            // Started as systemd starts it (Type=notify): READY=1 once it serves, STOPPING=1 when it drains.
            let systemd = try NotifySocket(name: "/run/weft-lab/\(mesh.lab.name)/notify")
            let restarted = try await mesh.lab.spawn(
                mesh.nodeCommand(mesh.a), on: mesh.a, environment: ["NOTIFY_SOCKET": systemd.name],
                name: "weft-node-again")
            // Short tries: a call made before the capture is back waits for nothing that will answer.
            let back = try await waitUntil(.seconds(10), every: .milliseconds(50)) {
                try await mesh.get("http://backend.weft:8080/", timeout: "0.3").stdout == "backend-ok\n"
            }
            let took = try #require(back, "traffic never came back: \(restarted.log().suffix(2000))")
            #expect(took < .seconds(2), "capture and traffic came back after \(took)")
            #expect(restarted.log().contains("starting from the last good config"))
            let ready = systemd.receive(until: "READY=1")
            #expect(ready.contains { $0.hasPrefix("READY=1\nSTATUS=serving: node a") }, "\(ready)")
            restarted.signal(SIGTERM)
            let stopping = systemd.receive(until: "STOPPING=1")
            #expect(stopping.last == "STOPPING=1\nSTATUS=draining open connections", "\(stopping)")
        }
    }

    /// Node b falls silent on its HBONE port (as a power cut or a severed link would: no FIN, no RST). The tunnel
    /// connection's keepalive and user timeout end the open stream on a within about half a minute instead of
    /// leaving it hanging; once b is back, new calls work on a new connection.
    @Test func aTunnelToANodeThatFallsSilentEndsWithinHalfAMinute() async throws {
        try await withMesh { mesh in
            let stream = try await openStream(mesh)
            let cut =
                "add table inet cut; "
                + "add chain inet cut in { type filter hook input priority -300; }; add rule inet cut in tcp dport 15008 drop; "
                + "add chain inet cut out { type filter hook output priority -300; }; add rule inet cut out tcp sport 15008 drop"
            try await Command.check(["ip", "netns", "exec", mesh.b.namespace, "nft", cut])
            let started = ContinuousClock.now
            try await stream.waitForExit(timeout: .seconds(50))
            let took = ContinuousClock.now - started
            #expect(took < .seconds(40), "the stream to a silent node ended after \(took)")

            try await Command.check(["ip", "netns", "exec", mesh.b.namespace, "nft", "delete table inet cut"])
            let back = try await waitUntil(.seconds(15), every: .milliseconds(250)) {
                try await mesh.get("http://backend.weft:8080/", timeout: "2").stdout == "backend-ok\n"
            }
            #expect(back != nil, "calls never worked again once b answered: \(mesh.nodeA.log().suffix(1500))")
        }
    }

    /// A node whose host goes silent (every packet dropped, no FIN) is noticed by both ends of its control-plane link
    /// within the keepalive, is marked down within node_timeout, and comes back by itself once it answers again.
    @Test func aPoweredOffNodeIsNoticedByBothEndsMarkedDownAndComesBack() async throws {
        try await withMesh(weftdArguments: ["--node-timeout", "6s"]) { mesh in
            func state() async throws -> (status: String, connected: Bool) {
                let shown = try await mesh.weftctl(["nodes", "show", "b", "-o", "json"])
                let json = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]
                let stream = json?["stream"] as? [String: Any]
                return (json?["status"] as? String ?? "?", stream?["connected"] as? Bool ?? false)
            }
            #expect(try await state() == ("up", true))
            let silence =
                "add table inet cut; "
                + "add chain inet cut in { type filter hook input priority -300; }; add rule inet cut in iifname != lo drop; "
                + "add chain inet cut out { type filter hook output priority -300; }; add rule inet cut out oifname != lo drop"
            try await Command.check(["ip", "netns", "exec", mesh.b.namespace, "nft", silence])
            // Its heartbeats stop: down within node_timeout (6 s) and one status sweep (5 s).
            let down = try await waitUntil(.seconds(20), every: .milliseconds(500)) {
                try await state().status == "down"
            }
            #expect(down != nil && down! < .seconds(14), "weftd did not mark b down: \(String(describing: down))")
            // weftd's keepalive ends the dead connection (10 s + 5 s, then 5 s of grace for the stream).
            let gone = try await waitUntil(.seconds(40), every: .milliseconds(500)) {
                try await state() == ("down", false)
            }
            #expect(gone != nil && gone! < .seconds(30), "weftd kept b's dead stream: \(String(describing: gone))")
            // b's side: its keepalive ended the silent connection rather than TCP's retransmission timeout.
            try await mesh.nodeB.waitForLog(containing: "control plane link lost", timeout: .seconds(10))

            try await Command.check(["ip", "netns", "exec", mesh.b.namespace, "nft", "delete table inet cut"])
            let back = try await waitUntil(.seconds(45), every: .milliseconds(500)) {
                try await state() == ("up", true)
            }
            #expect(back != nil, "b never came back: \(mesh.nodeB.log().suffix(1500))")
        }
    }

    /// Hostile nodes: one joining from an address its token does not name is refused; one that starts a unit with
    /// the name of a service placed on another node gets none of its traffic and no certificate, and admins see
    /// the refused claim with why.
    @Test func aNodeCannotJoinFromAnotherAddressOrTakeAServicePlacedElsewhere() async throws {
        try await withMesh(extraHosts: ["c"]) { mesh in
            let c = mesh.lab.host("c")
            let dir = "/run/weft-lab/\(mesh.lab.name)"
            let created = try await mesh.weftctl([
                "node", "token", "create", "--name", "c", "--address", "198.18.200.9", "-o", "json",
            ])
            let token = try #require(
                (try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])?["token"]
                    as? String, "\(created)")
            try token.write(toFile: "\(dir)/join-token-c", atomically: true, encoding: .utf8)
            let joining = try await mesh.lab.spawn(
                mesh.nodeCommand(c) + ["--join-token-file", "\(dir)/join-token-c"], on: c, name: "weft-node")
            try await joining.waitForExit(timeout: .seconds(20))
            #expect(
                joining.log().contains("this join comes from \(c.ipv4), which is not one of the node's addresses"),
                "\(joining.log().suffix(1500))")

            // backend.service on a as well: placed on b, so a's claim is refused.
            _ = try await mesh.lab.spawn(mesh.backendCommand, on: mesh.a, unit: "backend.service", name: "impostor")
            let refused = try await waitUntil(.seconds(10), every: .milliseconds(250)) {
                try await mesh.weftctl(["nodes", "show", "a"]).stdout.contains("not-placed")
            }
            let shownA = try await mesh.weftctl(["nodes", "show", "a"])
            #expect(refused != nil, "a's claim of backend was not refused: \(shownA)")
            let service = try await mesh.weftctl(["services", "show", "backend", "-o", "json"])
            let placement =
                (try JSONSerialization.jsonObject(with: Data(service.stdout.utf8)) as? [String: Any])?["nodes"]
                as? [String]
            #expect(placement == ["b"], "\(service)")
            for _ in 0..<5 {
                #expect(try await mesh.get("http://backend.weft:8080/").stdout == "backend-ok\n")
            }
            let toBackend = accessLines(mesh.nodeA).filter { line in
                line.direction == "outbound" && line.destination_service == "backend"
            }
            let local = toBackend.filter { line in line.tunnel_node == nil }
            #expect(!toBackend.isEmpty && local.isEmpty, "a's own impostor got traffic")
        }
    }

    /// The control-plane host is an ordinary mesh host too: weft-node there leaves weftd's listeners alone (never a
    /// mesh service, never captured), so another host still joins through it.
    @Test func aNodeOnTheControlPlaneHostLeavesWeftdsPortsAloneAndOthersStillJoin() async throws {
        try await withMesh(extraHosts: ["c"]) { mesh in
            let dir = "/run/weft-lab/\(mesh.lab.name)"
            func joinToken(_ node: String) async throws -> String {
                let created = try await mesh.weftctl(["node", "token", "create", "--name", node, "-o", "json"])
                let token = try #require(
                    (try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])?["token"]
                        as? String, "\(created)")
                try token.write(toFile: "\(dir)/join-token-\(node)", atomically: true, encoding: .utf8)
                return "\(dir)/join-token-\(node)"
            }
            let onCP = try await mesh.lab.spawn(
                mesh.nodeCommand(mesh.cp) + ["--join-token-file", try await joinToken("cp")], on: mesh.cp,
                name: "weft-node")
            try await onCP.waitForLog(containing: "registered with the control plane", timeout: .seconds(20))
            let services = try await mesh.weftctl(["services", "list"])
            #expect(!services.stdout.contains("weftd"), "weftd became a mesh service: \(services)")

            let c = mesh.lab.host("c")
            let joining = try await mesh.lab.spawn(
                mesh.nodeCommand(c) + ["--join-token-file", try await joinToken("c")], on: c, name: "weft-node")
            try await joining.waitForLog(containing: "joined the mesh", timeout: .seconds(20))
            let nodes = try await mesh.weftctl(["nodes", "list"])
            #expect(nodes.stdout.contains("cp") && nodes.stdout.contains("\nc "), "\(nodes)")
        }
    }

    /// A service restarting (its listener gone for a moment) stays registered: no config change reaches the other
    /// node, and calls work again as soon as it listens.
    @Test func aServiceRestartIsNoConfigPush() async throws {
        try await withMesh { mesh in
            func ackedVersion() async throws -> Int? {
                let shown = try await mesh.weftctl(["nodes", "show", "a", "-o", "json"])
                let json = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]
                return (json?["stream"] as? [String: Any])?["acked_version"] as? Int
            }
            // Settled: b's registration of stream.service may come a moment after backend's.
            var before = try await ackedVersion()
            for _ in 0..<20 {
                try await Task.sleep(for: .milliseconds(500))
                let now = try await ackedVersion()
                if now == before { break }
                before = now
            }
            await mesh.backend.terminate()
            try await Task.sleep(for: .milliseconds(1500))  // gone across a registration tick (1 s)
            _ = try await mesh.lab.spawn(
                mesh.backendCommand, on: mesh.b, unit: "backend.service", name: "backend-again")
            let back = try await waitUntil(.seconds(5), every: .milliseconds(200)) {
                try await mesh.get("http://backend.weft:8080/", timeout: "1").stdout == "backend-ok\n"
            }
            #expect(back != nil, "backend was not served again after its restart")
            try await Task.sleep(for: .seconds(4))  // past the 3 s hold
            #expect(try await ackedVersion() == before, "the restart changed the mesh's config")
        }
    }

    @Test func sigtermDrainsOpenConnectionsUpToTheDrainTimeout() async throws {
        try await withMesh(nodeArguments: ["--drain-timeout", "2s"]) { mesh in
            let stream = try await openStream(mesh)
            let stopped = ContinuousClock.now
            mesh.nodeA.signal(SIGTERM)
            #expect(try await stillTicking(stream), "an open stream keeps flowing while the node drains")
            try await stream.waitForExit(timeout: .seconds(6))
            let took = ContinuousClock.now - stopped
            #expect(
                took >= .milliseconds(1500) && took < .seconds(4),
                "the stream was closed \(took) after SIGTERM (drain timeout 2 s)")
            try await mesh.nodeA.waitForExit(timeout: .seconds(5))
            #expect(mesh.nodeA.log().contains("drain timeout"))
        }
    }

    @Test func aStreamStaysOpenAcrossTwoCertificateRotations() async throws {
        try await withMesh(weftdArguments: ["--workload-certificate-ttl", "1m"]) { mesh in
            let stream = try await openStream(mesh)
            let issuedBefore = mesh.nodeA.log().components(separatedBy: "svc/frontend notAfter").count - 1
            // Renewal at half life: 30 s and 60 s after the first certificate.
            try await Task.sleep(for: .seconds(65))
            let issued = mesh.nodeA.log().components(separatedBy: "svc/frontend notAfter").count - 1
            #expect(
                issued - issuedBefore >= 2, "frontend's certificate was renewed \(issued - issuedBefore) times in 65 s")
            #expect(try await stillTicking(stream), "the stream opened before the rotations must still carry bytes")
            let answer = try await mesh.get("http://backend.weft:8080/")
            #expect(
                answer.stdout == "backend-ok\n",
                "new connections use the renewed certificate: \(answer)\na: \(mesh.nodeA.log().suffix(2500))\nb: \(mesh.nodeB.log().suffix(1500))"
            )
        }
    }

    /// Also: Prometheus asks for basic auth, which the nodes send from their own credentials file; once a's egress
    /// policy refuses, its push to that address outside the mesh is refused too.
    @Test func nodesPushMetricsToARealPrometheusOnceTheControlPlaneSaysSoWithNothingRestarted() async throws {
        let credentials = FileManager.default.temporaryDirectory.appendingPathComponent("weft-push-\(UUID())").path
        try "weft:s3cret-push\n".write(toFile: credentials, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: credentials) }
        try await withMesh(nodeArguments: ["--metrics-push-basic-auth-file", credentials], extraHosts: ["m"]) { mesh in
            let m = mesh.lab.host("m")
            let dir = "/run/weft-lab/\(mesh.lab.name)"
            try "global:\n  scrape_interval: 15s\n".write(
                toFile: "\(dir)/prometheus.yml", atomically: true, encoding: .utf8)
            let hash = try await Command.run([
                "python3", "-W", "ignore", "-c",
                "import crypt; print(crypt.crypt('s3cret-push', crypt.mksalt(crypt.METHOD_BLOWFISH)))",
            ]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            try "basic_auth_users:\n  weft: \(hash)\n".write(
                toFile: "\(dir)/prometheus-web.yml", atomically: true, encoding: .utf8)
            let prometheus = try await mesh.lab.spawn(
                [
                    "prometheus", "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/prometheus",
                    "--web.listen-address=\(m.ipv4):9090", "--web.enable-remote-write-receiver",
                    "--web.config.file=\(dir)/prometheus-web.yml",
                ],
                on: m, name: "prometheus")
            try await prometheus.waitForLog(
                containing: "Server is ready to receive web requests", timeout: .seconds(30))

            let traffic = Task {
                while !Task.isCancelled {
                    _ = try? await mesh.get("http://backend.weft:8080/")
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
            defer { traffic.cancel() }
            let switched = ContinuousClock.now
            try await mesh.weftctl([
                "telemetry", "set", "--metrics-push", "prometheus-remote-write",
                "--metrics-endpoint", "http://\(m.ipv4):9090/api/v1/write", "--interval", "1",
            ])
            let query =
                #"sum(rate(weft_http_requests_total{source_service="frontend",destination_service="backend",reporter="source"}[10s]))"#
            var last = ""
            let seen = try await waitUntil(.seconds(15), every: .milliseconds(500)) {
                let answer = try await m.run([
                    "curl", "-sS", "-m", "2", "-u", "weft:s3cret-push", "http://\(m.ipv4):9090/api/v1/query",
                    "--data-urlencode", "query=\(query)",
                ])
                last = answer.stdout
                guard let object = try? JSONSerialization.jsonObject(with: Data(answer.stdout.utf8)) as? [String: Any],
                    let data = object["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
                    let value = (result.first?["value"] as? [Any])?.last as? String, let rate = Double(value)
                else { return false }
                return rate > 0
            }
            let took = try #require(
                seen, "Prometheus never showed frontend→backend traffic: \(last)\n\(mesh.nodeA.log().suffix(1500))")
            #expect(
                took < .seconds(10),
                "frontend→backend rate visible in Prometheus \(ContinuousClock.now - switched) after the switch")
            #expect(mesh.nodeA.log().contains("metrics push: pushing to http://\(m.ipv4):9090/api/v1/write"))
            // The push leaves on a marked socket: never captured, although 9090 is a mesh service port here.
            #expect(!mesh.nodeA.log().contains(#""original_destination":"\#(m.ipv4):9090""#))
            // Prometheus does refuse a push without credentials, so the nodes' pushes carried them.
            let anonymous = try await m.run([
                "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                "http://\(m.ipv4):9090/api/v1/write",
            ])
            #expect(anonymous.stdout == "401")

            try await mesh.weftctl(["nodes", "egress", "a", "refuse"])
            try await mesh.nodeA.waitForLog(
                containing: "refused: \(m.ipv4):9090 is outside the mesh and this node's egress policy refuses it",
                timeout: .seconds(10))
        }
    }
}
