import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Tells systemd how the service is doing (`sd_notify(3)`): datagrams to the unix socket in `$NOTIFY_SOCKET`
/// (a path, or `@name` in the abstract namespace), or to the socket `weft-node supervise` hands its worker
/// (`$WEFT_NOTIFY_FD`), which relays them as the unit's main process. Without either — not started by systemd
/// with `Type=notify` — there is no notifier and nothing is sent.
public final class SystemdNotifier: Sendable {
    /// What the service says.
    public enum Notification: Sendable, Equatable {
        /// Start-up is done (`READY=1`), with a status line.
        case ready(status: String)
        /// The service is shutting down (`STOPPING=1`).
        case stopping(status: String)
        /// A line `systemctl status` shows (`STATUS=`).
        case status(String)
        /// Still alive (`WATCHDOG=1`).
        case watchdog

        /// The datagram's text.
        public var text: String {
            switch self {
            case .ready(let status): "READY=1\nSTATUS=\(Self.line(status))"
            case .stopping(let status): "STOPPING=1\nSTATUS=\(Self.line(status))"
            case .status(let status): "STATUS=\(Self.line(status))"
            case .watchdog: "WATCHDOG=1"
            }
        }

        private static func line(_ text: String) -> String {
            String(text.map { $0.isNewline ? " " : $0 })
        }
    }

    /// Why a notification could not be sent.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Where notifications go.
    public enum Destination: Sendable, Equatable {
        /// systemd's socket, `$NOTIFY_SOCKET`.
        case socket(path: String)
        /// A connected datagram socket this process inherited (`$WEFT_NOTIFY_FD`).
        case descriptor(Int32)
    }

    /// The variable naming the inherited descriptor of `Destination.descriptor`.
    public static let descriptorVariable = "WEFT_NOTIFY_FD"

    public let destination: Destination
    private let silenced = Atomic<Bool>(false)
    /// How often systemd expects `WATCHDOG=1` (`$WATCHDOG_USEC`), when it watches this process.
    public let watchdogInterval: Duration?

    /// The notifier `environment` (the process's by default) asks for, or nil when it asks for none.
    public init?(environment: [String: String]) {
        if let path = environment["NOTIFY_SOCKET"], !path.isEmpty, path.utf8.count < 108 {
            destination = .socket(path: path)
        } else if let text = environment[Self.descriptorVariable], let fd = Int32(text), fd >= 0 {
            destination = .descriptor(fd)
        } else {
            return nil
        }
        if let text = environment["WATCHDOG_USEC"], let microseconds = Int64(text), microseconds > 0,
            environment["WATCHDOG_PID"].map({ $0 == String(getpid()) }) ?? true
        {
            watchdogInterval = .microseconds(microseconds)
        } else {
            watchdogInterval = nil
        }
    }

    /// The notifier of this process's environment.
    public static func fromEnvironment() -> SystemdNotifier? {
        var environment: [String: String] = [:]
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", descriptorVariable] {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        return SystemdNotifier(environment: environment)
    }

    /// Sends `notification`: one datagram, never blocking (the socket is systemd's, always there while it runs us).
    public func notify(_ notification: Notification) throws(Failure) {
        guard !silenced.load(ordering: .relaxed) else { return }
        try forward(notification.text)
    }

    /// Sends `text` as it is: what a supervisor relays from its worker.
    public func forward(_ text: String) throws(Failure) {
        let bytes = Array(text.utf8)
        switch destination {
        case .socket(let path): try sendDatagram(bytes, to: path)
        case .descriptor(let fd):
            let sent = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            guard sent == bytes.count else {
                throw Failure(description: "sending to descriptor \(fd): \(String(cString: strerror(errno)))")
            }
        }
    }

    private func sendDatagram(_ text: [UInt8], to socketPath: String) throws(Failure) {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket(AF_UNIX): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        // `@name`: the abstract namespace, a leading NUL and no terminator.
        let abstract = path.first == UInt8(ascii: "@")
        if abstract { path[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (abstract ? 0 : 1))
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                text.withUnsafeBytes {
                    sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), socketAddress, length)
                }
            }
        }
        guard sent == text.count else {
            throw Failure(description: "sending to \(socketPath): \(String(cString: strerror(errno)))")
        }
    }

    /// Sends nothing more, watchdog pings included: a process that handed its work to a successor in the same unit
    /// (a hitless restart) must not speak for the unit any more.
    public func silence() {
        silenced.store(true, ordering: .relaxed)
    }

    /// Sends `WATCHDOG=1` at half the interval systemd asked for, from a task scheduled on `loop`: when that event
    /// loop stalls the pings stop and systemd restarts the service. Nil when systemd does not watch this process.
    public func startWatchdog(on loop: any EventLoop) -> RepeatedTask? {
        guard let interval = watchdogInterval else { return nil }
        let half = TimeAmount(interval / 2)
        return loop.scheduleRepeatedTask(initialDelay: .zero, delay: half) { [self] _ in
            try? notify(.watchdog)
        }
    }
}
