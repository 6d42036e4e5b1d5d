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
        let nodeA: LabProcess, nodeB: LabProcess
        let adminToken: String

        /// weftctl on the control-plane host; JSON output parsed when `json`.
        @discardableResult
        func weftctl(_ arguments: [String]) async throws -> CommandResult {
            try await cp.run(
                ["env", "WEFT_ADDR=http://127.0.0.1:15443", "WEFT_TOKEN=\(adminToken)", try Lab.binary("weftctl")] + arguments)
        }

        /// An HTTP GET from frontend.service on host a (curl, so the name goes through the mesh DNS).
        func get(_ url: String, header: String? = nil) async throws -> CommandResult {
            var command = ["curl", "-sS", "-m", "3", url]
            if let header { command += ["-H", header] }
            return try await a.run(command, unit: "frontend.service", timeout: .seconds(10))
        }
    }

    /// Starts the mesh and waits until frontend reaches backend (its first call also obtains frontend's identity).
    func withMesh<T: Sendable>(_ body: (Mesh) async throws -> T) async throws -> T {
        try await Lab.withLab(hosts: ["cp", "a", "b"]) { lab in
            let cp = lab.host("cp"), a = lab.host("a"), b = lab.host("b")
            let dir = "/run/weft-lab/\(lab.name)"
            try "HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nbackend-ok\n".write(toFile: "\(dir)/response", atomically: true, encoding: .utf8)
            let weftd = try await lab.spawn(
                [try Lab.binary("weftd"), "--data-dir", "\(dir)/weftd", "--node-listen", "0.0.0.0:15012",
                 "--join-listen", "0.0.0.0:15013", "--admin-listen", "127.0.0.1:15443", "--admin-plaintext",
                 "--server-name", cp.ipv4.description],
                on: cp, name: "weftd")
            try await weftd.waitForLog(containing: "weftd ready", timeout: .seconds(20))
            let adminToken = try String(contentsOfFile: "\(dir)/weftd/admin-token", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            var nodes: [LabProcess] = []
            for host in [a, b] {
                let created = try await cp.run(
                    ["env", "WEFT_ADDR=http://127.0.0.1:15443", "WEFT_TOKEN=\(adminToken)", try Lab.binary("weftctl"),
                     "node", "token", "create", "--name", host.name, "--ttl", "1h", "-o", "json"])
                let token = try #require(
                    (try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])?["token"] as? String,
                    "\(created)")
                nodes.append(try await lab.spawn(
                    [try Lab.binary("weft-node"), "run", "--control-plane", "\(cp.ipv4):15012", "--join-token", token,
                     "--state-dir", "\(dir)/node-\(host.name)", "--node-name", host.name, "--services-dir", "/nonexistent",
                     "--dns-upstream", "\(cp.ipv4):53", "--cleanup-on-exit"],
                    on: host, name: "weft-node"))
            }
            _ = try await lab.spawn(
                ["socat", "TCP-LISTEN:8080,fork,reuseaddr", "SYSTEM:cat \(dir)/response"], on: b, unit: "backend.service", name: "backend")
            _ = try await lab.spawn(
                ["socat", "TCP-LISTEN:9090,fork,reuseaddr", "SYSTEM:while true; do echo tick; sleep 0.2; done"],
                on: b, unit: "stream.service", name: "stream")
            let mesh = Mesh(lab: lab, cp: cp, a: a, b: b, nodeA: nodes[0], nodeB: nodes[1], adminToken: adminToken)
            let deadline = ContinuousClock.now + .seconds(20)
            var last: CommandResult?
            while ContinuousClock.now < deadline {
                last = try await mesh.get("http://backend.weft:8080/")
                if last?.stdout == "backend-ok\n" { break }
                try await Task.sleep(for: .milliseconds(300))
            }
            try #require(last?.stdout == "backend-ok\n", "frontend never reached backend through the mesh: \(String(describing: last))")
            return try await body(mesh)
        }
    }

    struct AccessLine: Decodable {
        var direction: String
        var result: String
        var reason: String?
        var source_service: String?
        var source_identity: String?
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
            let services = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], "\(listed)")
            let vip = try #require(services.first { $0["name"] as? String == "backend" }?["vip"] as? String, "\(listed)")
            #expect(try await mesh.get("http://\(vip):8080/").stdout == "backend-ok\n")

            let outbound = try #require(accessLines(mesh.nodeA).last { $0.direction == "outbound" && $0.result == "forwarded" })
            #expect(outbound.source_service == "frontend" && outbound.destination_service == "backend" && outbound.tunnel_node == "b")
            let requestID = try #require(outbound.request_id)
            try await mesh.nodeB.waitForLog(containing: requestID)
            let inbound = try #require(accessLines(mesh.nodeB).first { $0.request_id == requestID })
            #expect(inbound.direction == "inbound" && inbound.result == "forwarded")
            #expect(inbound.source_identity == "spiffe://weft.local/ns/default/svc/frontend")

            let metrics = try await mesh.a.run(["curl", "-sS", "http://127.0.0.1:15020/metrics"])
            #expect(metrics.stdout.contains(#"weft_tcp_connections_closed_total{reporter="source",source_service="frontend",destination_service="backend"}"#))
            let ready = try await mesh.b.run(["curl", "-sS", "http://127.0.0.1:15020/readyz"])
            #expect(ready.stdout == "ready\n", "\(ready)")
        }
    }

    @Test func theWireBetweenTheHostsCarriesNoPlaintext() async throws {
        try await withMesh { mesh in
            let capture = "/run/weft-lab/\(mesh.lab.name)/wire.pcap"
            let dump = try await mesh.lab.spawn(["tcpdump", "-i", "eth0", "-U", "-w", capture, "tcp"], on: mesh.b, name: "tcpdump")
            try await Task.sleep(for: .milliseconds(800))
            let marker = "weft-marker-\(UUID().uuidString)"
            let answer = try await mesh.get("http://backend.weft:8080/", header: "X-Marker: \(marker)")
            #expect(answer.stdout == "backend-ok\n")
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
            #expect(accessLines(mesh.nodeA).contains { $0.result == "refused" && ($0.reason ?? "").contains("denied by intention frontend>backend") })

            try await mesh.weftctl(["intention", "allow", "frontend", "backend"])
            try await Task.sleep(for: .seconds(1))
            #expect(try await mesh.get("http://backend.weft:8080/").stdout == "backend-ok\n")

            let stream = try await mesh.lab.spawn(
                ["socat", "-u", "TCP:stream.weft:9090", "STDOUT"], on: mesh.a, unit: "frontend.service", name: "long-stream")
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
}
