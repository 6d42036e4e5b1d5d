import Foundation
import Logging
import Synchronization
import Testing

@testable import WeftLogging

#if canImport(Glibc)
    import Glibc
#endif

/// Lines for journald carry their priority, so `journalctl -p warning` finds warnings, and no second timestamp.
@Suite struct JournalLoggingTests {
    @Test func eachLevelGetsItsSyslogPriority() {
        let expected: [(Logger.Level, Int)] = [
            (.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
        ]
        for (level, priority) in expected { #expect(JournalStream.priority(level) == priority, "\(level)") }
    }

    @Test func textLinesArePrefixedOneLineEachWithoutATimestamp() {
        let lines = Mutex<[String]>([])
        var handler = JournalTextLogHandler(label: "weftd") { line in lines.withLock { $0.append(line) } }
        handler.metadata = ["node": "a"]
        let logger = Logger(label: "weftd") { _ in handler }
        logger.warning("config refused\nby node a", metadata: ["version": "7"])
        logger.info("ready")
        #expect(
            lines.withLock { $0 } == ["<4>weftd: config refused by node a node=a version=7", "<6>weftd: ready node=a"])
    }

    @Test func jsonLinesForJournaldStartWithThePriority() {
        let lines = Mutex<[String]>([])
        let handler = JSONLogHandler(label: "weft.node", priorityPrefix: true) { line in
            lines.withLock { $0.append(line) }
        }
        Logger(label: "weft.node") { _ in handler }.error("capture failed")
        let line = lines.withLock { $0.first } ?? ""
        #expect(line.hasPrefix("<3>{\"time\":"), "\(line)")
        #expect(line.hasSuffix("\"message\":\"capture failed\"}"))
    }

    @Test func journalStreamMustNameTheDescriptorsFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID())").path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        defer { unlink(path) }
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var status = stat()
        #expect(fstat(fd, &status) == 0)
        #expect(JournalStream.isConnected("\(status.st_dev):\(status.st_ino)", descriptor: fd))
        #expect(!JournalStream.isConnected("\(status.st_dev):\(status.st_ino + 1)", descriptor: fd))
        #expect(!JournalStream.isConnected("garbage", descriptor: fd))
        #expect(!JournalStream.isConnected(nil, descriptor: fd))
    }
}
