import Foundation
import Testing
import WeftLabSupport

/// The lab itself: hosts reach each other, workloads land in their cgroups, and nothing outlives a test.
@Suite(.serialized) struct LabHarnessTests {
    @Test func hostsReachEachOtherOverIPv4AndIPv6() async throws {
        try await Lab.withLab(hosts: ["a", "b"]) { lab in
            let a = lab.host("a")
            let b = lab.host("b")
            #expect(a.ipv4.description.hasPrefix("198.18.") && a.ipv6.description.hasPrefix("2001:2:"))
            let v4 = try await a.run(["ping", "-c1", "-W2", b.ipv4.description])
            #expect(v4.succeeded, "\(v4.stdout)\(v4.stderr)")
            let v6 = try await a.run(["ping", "-c1", "-W2", b.ipv6.description])
            #expect(v6.succeeded, "\(v6.stdout)\(v6.stderr)")
            let addresses = try await a.run(["ip", "-o", "addr", "show", "dev", "eth0"])
            #expect(addresses.stdout.contains("\(a.ipv4)/24") && addresses.stdout.contains("\(a.ipv6)/64"))
        }
    }

    @Test func spawnedWorkloadRunsInItsUnitCgroupAndItsLogIsCollected() async throws {
        try await Lab.withLab(hosts: ["a"]) { lab in
            let process = try await lab.spawn(
                ["sh", "-c", "echo ready; cat /proc/self/cgroup; sleep 30"], on: lab.host("a"),
                unit: "frontend.service", name: "frontend")
            try await process.waitForLog(containing: "ready")
            let cgroup = try String(contentsOfFile: "/proc/\(process.pid)/cgroup", encoding: .utf8)
            #expect(cgroup.contains("0::/weft-lab/\(lab.name)/a/system.slice/frontend.service"))
            try await process.waitForLog(containing: "frontend.service")
        }
    }

    @Test func teardownLeavesNothingEvenWhenTheBodyFails() async throws {
        struct Expected: Error {}
        var name = ""
        var process: LabProcess?
        await #expect(throws: Expected.self) {
            try await Lab.withLab(hosts: ["a", "b"]) { lab in
                name = lab.name
                process = try await lab.spawn(["sleep", "60"], on: lab.host("b"), unit: "db.service", name: "db")
                throw Expected()
            }
        }
        let namespaces = try await Command.check(["ip", "netns", "list"]).stdout
        #expect(!namespaces.contains("weftlab-\(name)-"))
        #expect(process?.isRunning == false, "the spawned process is gone")
        let root = try await Command.check([Lab.repositoryRoot + "/Scripts/lab", "cgroup-root"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!FileManager.default.fileExists(atPath: "\(root)/weft-lab/\(name)"))
        #expect(!FileManager.default.fileExists(atPath: "/run/weft-lab/\(name)"))
    }

    @Test func cleanRemovesALabLeftBehind() async throws {
        let script = Lab.repositoryRoot + "/Scripts/lab"
        try await Command.check([script, "up", "leftover", "x"])
        _ = try await Command.check([script, "spawn", "leftover", "x", "--unit", "stray.service", "--", "sleep", "60"])
        try await Command.check([script, "clean"])
        let namespaces = try await Command.check(["ip", "netns", "list"]).stdout
        #expect(!namespaces.contains("weftlab-leftover"))
        #expect(try await Command.check([script, "list"]).stdout.isEmpty)
    }

    @Test func labsCanRunOneAfterAnother() async throws {
        for _ in 0..<2 {
            try await Lab.withLab(hosts: ["a", "b"]) { lab in
                let ping = try await lab.host("a").run(["ping", "-c1", "-W2", lab.host("b").ipv4.description])
                #expect(ping.succeeded)
            }
        }
    }
}
