import Logging
import NIOPosix
import Synchronization
import WeftSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// Relays to systemd, as the unit's main process, the notifications of the current worker only: each worker gets
/// a socket of its own, and the one it replaced is not heard any more.
final class NotifyRelay: Sendable {
    private let systemd: SystemdNotifier
    private let logger: Logger
    /// The current worker's socket; only the relay loop closes the ones it no longer follows.
    private let latest = Mutex<Int32>(-1)
    private let thread: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    init(systemd: SystemdNotifier, logger: Logger) {
        self.systemd = systemd
        self.logger = logger
    }

    func follow(_ fd: Int32) {
        latest.withLock { $0 = fd }
    }

    func run() async {
        var following: Int32 = -1
        while !Task.isCancelled {
            let fd = latest.withLock { $0 }
            if fd != following {
                if following >= 0 { close(following) }
                following = fd
            }
            guard fd >= 0 else {
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            let heard = try? await thread.runIfActive { () -> String? in
                var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&entry, 1, 500) == 1 else { return nil }
                var buffer = [UInt8](repeating: 0, count: 4096)
                let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                return received > 0 ? String(decoding: buffer.prefix(received), as: UTF8.self) : nil
            }
            guard let text = heard ?? nil else { continue }
            do { try systemd.forward(text) } catch {
                logger.warning("cannot relay to systemd", metadata: ["error": "\(error)"])
            }
        }
    }
}
