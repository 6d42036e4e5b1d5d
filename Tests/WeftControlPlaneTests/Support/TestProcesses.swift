import Foundation

/// The project's built executables, for tests that run them as a user would.
enum TestBinaries {
    struct NotBuilt: Error, CustomStringConvertible {
        var description: String
    }

    /// `name` in WEFT_BIN_DIR (Scripts/test sets it), next to the test bundle, or in .build/debug.
    static func path(_ name: String) throws -> String {
        var candidates: [String] = []
        if let directory = ProcessInfo.processInfo.environment["WEFT_BIN_DIR"] {
            candidates.append(directory + "/" + name)
        }
        if let bundle = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append((bundle as NSString).deletingLastPathComponent + "/" + name)
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/\(name)").path)
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw NotBuilt(description: "\(name) is not built (looked in \(candidates)): run swift build --build-tests")
        }
        return found
    }
}

/// One finished run of a program: its exit status and what it printed.
struct ProcessOutcome: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }

    /// Runs `executable` to its end with only HOME, PATH and `environment` set (nothing from the test runner's
    /// WEFT_*). Reads and waits on threads of their own: the cooperative pool must stay free for servers under test
    /// in this process, and GCD's default pool is as small as the machine (2 threads here).
    static func run(_ executable: String, _ arguments: [String], home: String, environment: [String: String] = [:])
        async throws -> ProcessOutcome
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ["HOME": home, "PATH": "/usr/bin:/bin"].merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let stdout = CollectedBytes()
        let stderr = CollectedBytes()
        return try await withCheckedThrowingContinuation { continuation in
            let done = CollectedBytes()
            process.terminationHandler = { _ in done.finish() }
            do { try process.run() } catch { return continuation.resume(throwing: error) }
            Thread.detachNewThread { stdout.finish(out.fileHandleForReading.readDataToEndOfFile()) }
            Thread.detachNewThread { stderr.finish(err.fileHandleForReading.readDataToEndOfFile()) }
            Thread.detachNewThread {
                let output = stdout.wait()
                let errors = stderr.wait()
                _ = done.wait()
                continuation.resume(
                    returning: ProcessOutcome(
                        status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
                        stderr: String(decoding: errors, as: UTF8.self)
                    )
                )
            }
        }
    }
}

/// Bytes one thread collects and another waits for.
final class CollectedBytes: @unchecked Sendable {
    private let condition = NSCondition()
    private var data: Data?

    func finish(_ value: Data = Data()) {
        condition.lock()
        data = value
        condition.broadcast()
        condition.unlock()
    }

    func wait() -> Data {
        condition.lock()
        defer { condition.unlock() }
        while data == nil { condition.wait() }
        return data!
    }
}

/// A long-running program (weftd) started as systemd would: its own signal mask cleared (Foundation's children
/// inherit the test runner's blocked SIGTERM), stdout read line by line.
final class BackgroundProcess: @unchecked Sendable {
    let process = Process()
    private let condition = NSCondition()
    private var lines: [String] = []
    private var errorOutput = Data()
    private var ended = false

    /// `journalStderr`: as systemd does for journald, JOURNAL_STREAM names the process's standard error.
    init(
        _ executable: String, _ arguments: [String], home: String, environment: [String: String] = [:],
        journalStderr: Bool = false
    ) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/perl")
        process.arguments =
            ["-MPOSIX", "-e", "sigprocmask(SIG_SETMASK, POSIX::SigSet->new); exec @ARGV or die $!", "--", executable]
            + arguments
        process.environment = ["HOME": home, "PATH": "/usr/bin:/bin"].merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        if journalStderr {
            var status = stat()
            fstat(err.fileHandleForWriting.fileDescriptor, &status)
            process.environment?["JOURNAL_STREAM"] = "\(status.st_dev):\(status.st_ino)"
        }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let chunk = out.fileHandleForReading.availableData
                condition.lock()
                if chunk.isEmpty {
                    ended = true
                    condition.broadcast()
                    condition.unlock()
                    return
                }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    lines.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending = Data(pending[(newline + 1)...])
                }
                condition.broadcast()
                condition.unlock()
            }
        }
        Thread.detachNewThread { [self] in
            let data = err.fileHandleForReading.readDataToEndOfFile()
            condition.lock()
            errorOutput = data
            condition.unlock()
        }
    }

    /// The first stdout line containing `text`, waiting up to `timeout` seconds.
    func waitForLine(containing text: String, timeout: TimeInterval = 20) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let line = lines.first(where: { $0.contains(text) }) { return line }
            if ended || !condition.wait(until: deadline) { return nil }
        }
    }

    var stderr: String {
        condition.lock()
        defer { condition.unlock() }
        return String(decoding: errorOutput, as: UTF8.self)
    }

    /// Sends `signal` and waits for the exit; SIGKILL after `timeout` seconds. Returns the exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: TimeInterval = 10) -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        usleep(100_000)  // let the reader threads take the last output
        return process.terminationStatus
    }
}
