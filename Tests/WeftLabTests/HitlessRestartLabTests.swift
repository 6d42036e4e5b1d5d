import Foundation
import Testing
import WeftCore
import WeftLabSupport

/// A hitless restart: the new weft-node process takes the listening sockets over from the old one, which stops
/// accepting and drains its open connections, while the capture stays installed.
extension MeshLabTests {
    /// The load tool: short calls at a fixed rate and long-lived streams, every failure counted.
    static let loadTool = Lab.repositoryRoot + "/Tests/Tools/hitless_load.py"

    /// The summary line of hitless_load.py.
    struct LoadSummary: Decodable {
        struct Streams: Decodable {
            var opened: Int
            var intact: Int
            var ticks: [Int]
            var errors: [String]
        }
        var seconds: Double
        var calls: Int
        var ok: Int
        var failures: [String: Int]
        var streams: Streams
    }

    /// A node log without its access-log lines of connections forwarded both ways.
    static func unusualLines(_ log: String) -> String {
        log.split(separator: "\n").filter {
            !$0.hasPrefix("{") || !$0.contains("\"result\":\"forwarded\"") || $0.contains("\"bytes_sent\":0,")
                || $0.contains("\"bytes_received\":0,")
        }.joined(separator: "\n")
    }

    /// Releases `old` (SIGUSR2, what `weft-node supervise` sends when systemd stops or restarts the unit) and starts
    /// `command` in its place; returns the new process once it took the sockets over and the old one drains.
    func handOver(
        from old: LabProcess, to command: [String], on host: LabHost, in mesh: Mesh, name: String
    ) async throws -> LabProcess {
        old.signal(SIGUSR2)
        let new = try await mesh.lab.spawn(command, on: host, name: name)
        do {
            try await new.waitForLog(containing: "took over from the previous process", timeout: .seconds(30))
        } catch {
            print("---- \(new.name), from its start:\n\(new.log().prefix(8000))")
            throw error
        }
        try await old.waitForLog(containing: "handed over to a successor: draining", timeout: .seconds(10))
        return new
    }

    @Test func restartsOnBothSidesAndAnUpgradeRefuseNoCallAndKeepEveryStream() async throws {
        try await withMesh { mesh in
            let dir = "/run/weft-lab/\(mesh.lab.name)"
            _ = try await mesh.lab.spawn(
                ["python3", Self.loadTool, "serve", "7070"], on: mesh.b, unit: "hitless.service", name: "hitless")
            let reachable = try await waitUntil(.seconds(20), every: .milliseconds(300)) {
                try await mesh.a.halfClosingCall(
                    "hitless.weft", 7070, sending: "ping 1\n", unit: "frontend.service", connectTimeout: 1,
                    readTimeout: 2, timeout: .seconds(5)
                ).stdout == "pong 1\n"
            }
            try #require(reachable != nil, "hitless.weft:7070 never answered through the mesh")
            let control = "\(dir)/hitless-control"
            let load = try await mesh.lab.spawn(
                [
                    "python3", Self.loadTool, "load", "hitless.weft", "7070", "--rate", "200", "--streams", "10",
                    "--control", control, "--max-seconds", "180",
                ], on: mesh.a, unit: "frontend.service", name: "hitless-load")
            try await load.waitForLog(containing: "streams open: 10", timeout: .seconds(20))
            try await Task.sleep(for: .seconds(2))

            // 1. The server side, restarted by hand the way systemd restarts the unit.
            let nodeB2 = try await handOver(
                from: mesh.nodeB, to: mesh.nodeCommand(mesh.b), on: mesh.b, in: mesh, name: "weft-node-2")
            try await Task.sleep(for: .seconds(3))

            // 2. The client side, into `weft-node supervise` (the unit's main process).
            let runArguments = Array(mesh.nodeCommand(mesh.a).dropFirst(2))
            let supervisorA = try await handOver(
                from: mesh.nodeA, to: [try Lab.binary("weft-node"), "supervise"] + runArguments, on: mesh.a,
                in: mesh, name: "weft-node-supervised")
            try await Task.sleep(for: .seconds(3))

            // 3. An upgrade: a new binary in place, then what `systemctl restart` does: SIGTERM to the supervisor,
            // which releases its worker and exits at once; the new supervisor's worker takes the sockets over.
            let upgraded = "\(dir)/weft-node-upgraded"
            try FileManager.default.copyItem(atPath: try Lab.binary("weft-node"), toPath: upgraded)
            supervisorA.signal(SIGTERM)
            try await supervisorA.waitForExit(timeout: .seconds(3))
            let supervisorA2 = try await mesh.lab.spawn(
                [upgraded, "supervise"] + runArguments, on: mesh.a, name: "weft-node-upgraded")
            try await supervisorA2.waitForLog(containing: "took over from the previous process", timeout: .seconds(30))
            try await Task.sleep(for: .seconds(3))

            try "stop".write(toFile: control, atomically: true, encoding: .utf8)
            try await load.waitForExit(timeout: .seconds(30))
            let line = try #require(load.log().split(separator: "\n").last { $0.hasPrefix("{") }, "\(load.log())")
            let summary = try JSONDecoder().decode(LoadSummary.self, from: Data(line.utf8))
            print("hitless restarts: \(line)")
            if !summary.failures.isEmpty || summary.streams.intact != 10 {
                for process in [load, mesh.nodeA, mesh.nodeB, nodeB2, supervisorA, supervisorA2] {
                    print("---- \(process.name):\n" + Self.unusualLines(process.log()))
                }
            }
            #expect(summary.failures.isEmpty && summary.ok == summary.calls, "\(line)")
            #expect(summary.calls > 2_000, "\(line)")
            #expect(summary.streams.opened == 10 && summary.streams.intact == 10, "\(line)")

            // The released processes served their streams to the end, then exited by themselves.
            try await mesh.nodeB.waitForExit(timeout: .seconds(15))
            try await mesh.nodeA.waitForExit(timeout: .seconds(15))
            let workerLog = supervisorA.log()
            let drained = try await waitUntil(.seconds(15)) { supervisorA.log().contains("weft-node stopped") }
            #expect(drained != nil, "the upgraded-from worker never finished draining:\n\(workerLog.suffix(3000))")
            #expect(nodeB2.isRunning && supervisorA2.isRunning)
            // The capture stayed across all of it, and the successors serve.
            let after = try await mesh.a.halfClosingCall(
                "hitless.weft", 7070, sending: "ping 2\n", unit: "frontend.service", timeout: .seconds(10))
            #expect(after.stdout == "pong 2\n", "\(after)")
        }
    }
}
