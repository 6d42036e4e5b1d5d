import Foundation
import NIOPosix
import Testing
import WeftLabSupport

@testable import WeftSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// sd_notify as systemd receives it: datagrams on a unix socket named by NOTIFY_SOCKET.
@Suite(.timeLimit(.minutes(1)))
struct SystemdNotifierTests {
    @Test func withoutNotifySocketThereIsNoNotifier() {
        #expect(SystemdNotifier(environment: [:]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]) == nil)
    }

    @Test(arguments: ["path", "abstract"])
    func readyStatusAndStoppingReachTheSocket(kind: String) throws {
        let name =
            kind == "path"
            ? FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString.prefix(8))")
                .path
            : "@weft-notify-\(UUID().uuidString)"
        let systemd = try NotifySocket(name: name)
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": name]))
        try notifier.notify(.ready(status: "serving 3 services\nconfig v7"))
        #expect(systemd.receive() == "READY=1\nSTATUS=serving 3 services config v7")
        try notifier.notify(.status("waiting for: config"))
        #expect(systemd.receive() == "STATUS=waiting for: config")
        try notifier.notify(.stopping(status: "draining"))
        #expect(systemd.receive() == "STOPPING=1\nSTATUS=draining")
    }

    @Test func aSocketNobodyListensOnIsAFailureWithTheReason() {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/notify"])!
        #expect(throws: SystemdNotifier.Failure.self) { try notifier.notify(.watchdog) }
    }

    @Test func theWatchdogPingsAtHalfTheIntervalFromAnEventLoop() async throws {
        let name = "@weft-watchdog-\(UUID().uuidString)"
        let systemd = try NotifySocket(name: name)
        let notifier = try #require(
            SystemdNotifier(environment: ["NOTIFY_SOCKET": name, "WATCHDOG_USEC": "200000"]))
        #expect(notifier.watchdogInterval == .milliseconds(200))
        let task = try #require(notifier.startWatchdog(on: MultiThreadedEventLoopGroup.singleton.next()))
        defer { task.cancel() }
        for _ in 0..<3 { #expect(systemd.receive() == "WATCHDOG=1") }
        #expect(
            SystemdNotifier(environment: ["NOTIFY_SOCKET": name, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"])?
                .watchdogInterval == nil, "another process's watchdog")
    }
}
