import Foundation
import WeftCore

/// A set of test hosts (network namespaces on one bridge) made by `Scripts/lab`, torn down when the test ends.
public final class Lab: Sendable {
    public let name: String
    public let hosts: [LabHost]
    /// The lab's cgroup directory; workloads run in `<cgroup>/<host>/system.slice/<unit>`.
    public let cgroupDirectory: String
    private let processes = LockedBox<[LabProcess]>([])

    /// The repository root (where `Scripts/lab` lives).
    public static let repositoryRoot: String = {
        if let root = ProcessInfo.processInfo.environment["WEFT_REPO"] { return root }
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var script: String { repositoryRoot + "/Scripts/lab" }

    private init(name: String, hosts: [LabHost], cgroupDirectory: String) {
        self.name = name
        self.hosts = hosts
        self.cgroupDirectory = cgroupDirectory
    }

    /// Creates a lab with the named hosts, runs `body`, and always tears the lab down, printing every process log
    /// when the body fails.
    public static func withLab<T: Sendable>(
        hosts names: [String], _ body: (Lab) async throws -> T
    ) async throws -> T {
        let lab = try await create(hosts: names)
        do {
            let result = try await body(lab)
            await lab.destroy()
            return result
        } catch {
            print(lab.diagnostics())
            await lab.destroy()
            throw error
        }
    }

    static func create(hosts names: [String]) async throws -> Lab {
        let owner = String(getpid())
        // Labs whose test process died (crash, kill -9) are removed before making a new one.
        try await Command.check([script, "reap"])
        let name = "l" + String((0..<5).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! })
        try await Command.check([script, "up", name] + names, environment: ["WEFT_LAB_OWNER": owner])
        let show = try await Command.check([script, "show", name, "--json"])
        struct Shown: Decodable {
            struct Host: Decodable { var name, namespace, ipv4, ipv6: String }
            var cgroup: String
            var hosts: [Host]
        }
        let shown = try JSONDecoder().decode(Shown.self, from: Data(show.stdout.utf8))
        let hosts = try shown.hosts.map { host in
            guard let v4 = IPAddress(host.ipv4), let v6 = IPAddress(host.ipv6) else {
                throw LabError("lab printed bad addresses for \(host.name): \(host.ipv4) \(host.ipv6)")
            }
            return LabHost(lab: name, name: host.name, namespace: host.namespace, ipv4: v4, ipv6: v6)
        }
        return Lab(name: name, hosts: hosts, cgroupDirectory: shown.cgroup)
    }

    public func host(_ name: String) -> LabHost {
        guard let host = hosts.first(where: { $0.name == name }) else {
            preconditionFailure("no host \(name) in lab \(self.name): \(hosts.map(\.name))")
        }
        return host
    }

    /// Starts a long-running process in a host (in the unit's cgroup when given); stopped at teardown.
    public func spawn(
        _ arguments: [String], on host: LabHost, unit: String? = nil, environment: [String: String] = [:],
        name: String
    ) async throws -> LabProcess {
        let log = "/run/weft-lab/\(self.name)/logs/\(host.name)-\(name).log"
        var args = [Self.script, "spawn", self.name, host.name, "--name", name, "--log", log]
        if let unit { args += ["--unit", unit] }
        let env = environment.isEmpty ? [] : ["env"] + environment.map { "\($0.key)=\($0.value)" }
        let result = try await Command.check(args + ["--"] + env + arguments)
        guard let pid = Int32(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw LabError("lab spawn printed no pid: \(result.stdout)")
        }
        let process = LabProcess(pid: pid, name: "\(host.name)/\(name)", logPath: log)
        processes.withLock { $0.append(process) }
        return process
    }

    /// Gives `host` its own /etc/resolv.conf naming these servers (removed at teardown).
    public func setNameServers(_ servers: [IPAddress], on host: LabHost) async throws {
        try await Command.check([Self.script, "resolv", name, host.name] + servers.map(\.description))
    }

    /// The last lines of every process log, for a failing test's output.
    public func diagnostics(lines: Int = 40) -> String {
        processes.withLock { $0 }.map { process in
            let tail = process.log().split(separator: "\n", omittingEmptySubsequences: false).suffix(lines)
            return "---- \(process.name) (pid \(process.pid)) \(process.logPath)\n" + tail.joined(separator: "\n")
        }.joined(separator: "\n")
    }

    func destroy() async {
        for process in processes.withLock({ $0 }) {
            await process.terminate(grace: .seconds(3))
        }
        _ = try? await Command.run([Self.script, "down", name])
    }

    /// Path of a built executable: `$WEFT_BIN_DIR`, else next to the running test bundle.
    public static func binary(_ name: String) throws -> String {
        var candidates: [String] = []
        if let dir = ProcessInfo.processInfo.environment["WEFT_BIN_DIR"] { candidates.append(dir) }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path)
        candidates.append(repositoryRoot + "/.build/debug")
        for dir in candidates where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
            return dir + "/" + name
        }
        throw LabError("no built \(name) in \(candidates); run `swift build` first (Scripts/test does)")
    }
}

/// One test host.
public struct LabHost: Sendable {
    public let lab: String
    public let name: String
    public let namespace: String
    public let ipv4: IPAddress
    public let ipv6: IPAddress

    /// This host's system.slice, from the cgroup2 root: the lab's hosts share one cgroup tree, so a weft-node in
    /// a test host is told where its host's trusted units are (`--identity-slice`).
    public var identitySlice: String { "weft-lab/\(lab)/\(name)/system.slice" }

    /// For `NetworkNamespace.perform(inNamespaceAt:)`.
    public var namespacePath: String { "/run/netns/\(namespace)" }

    /// Runs a command in this host and waits for it (bounded): in `system.slice/<unit>` when a unit is given, or in
    /// `cgroup` (a path below the host's cgroup directory).
    public func run(
        _ arguments: [String], unit: String? = nil, cgroup: String? = nil, timeout: Duration = .seconds(30)
    ) async throws -> CommandResult {
        var args = [Lab.script, "exec", lab, name]
        if let unit { args += ["--unit", unit] }
        if let cgroup { args += ["--cgroup", cgroup] }
        return try await Command.run(args + ["--"] + arguments, timeout: timeout)
    }

    /// Connects from this host (optionally in a unit's cgroup) `times` times in a row; each time it sends `request`,
    /// half-closes at once and collects what the server said before its end of stream. A small python3 client, not
    /// socat: socat with its input already at EOF may close before sending, or time out on its own terms.
    public func halfClosingCall(
        _ address: String, _ port: Int, sending request: String = "", unit: String? = nil,
        connectTimeout: Double = 3, readTimeout: Double = 5, times: Int = 1, timeout: Duration = .seconds(30)
    ) async throws -> CommandResult {
        let client = """
            import socket, sys
            address, port, request = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
            connect_timeout, read_timeout, times = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
            for _ in range(times):
                s = socket.create_connection((address, port), timeout=connect_timeout)
                s.settimeout(read_timeout)
                s.sendall(request)
                s.shutdown(socket.SHUT_WR)
                while chunk := s.recv(4096):
                    sys.stdout.write(chunk.decode())
                s.close()
            """
        return try await run(
            ["python3", "-c", client, address, "\(port)", request, "\(connectTimeout)", "\(readTimeout)", "\(times)"],
            unit: unit, timeout: timeout)
    }
}

/// A process started in a test host.
public final class LabProcess: Sendable {
    public let pid: Int32
    public let name: String
    public let logPath: String

    init(pid: Int32, name: String, logPath: String) {
        self.pid = pid
        self.name = name
        self.logPath = logPath
    }

    public func log() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    public var isRunning: Bool {
        guard kill(pid, 0) == 0 else { return false }
        // A zombie still answers kill(0); its state in /proc says whether it really runs.
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !(stat.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? true)
    }

    /// Waits until the log contains `text`; throws with the log's tail on timeout or if the process exits.
    public func waitForLog(containing text: String, timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if log().contains(text) { return }
            if !isRunning {
                if log().contains(text) { return }
                throw LabError("\(name) exited before logging '\(text)':\n\(log().suffix(3000))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw LabError("\(name) did not log '\(text)' within \(timeout):\n\(log().suffix(3000))")
    }

    public func signal(_ signal: Int32) {
        kill(pid, signal)
    }

    /// Waits until the process is gone; throws on timeout.
    public func waitForExit(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            guard ContinuousClock.now < deadline else { throw LabError("\(name) still runs after \(timeout)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// SIGTERM, then SIGKILL to its whole process group after `grace`.
    public func terminate(grace: Duration = .seconds(3)) async {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        if (try? await waitForExit(timeout: grace)) == nil {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            try? await waitForExit(timeout: .seconds(2))
        }
    }
}

final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try lock.withLock { try body(&value) }
    }
}
