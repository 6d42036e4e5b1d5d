import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A bound unix datagram socket standing in for systemd's notification socket (`$NOTIFY_SOCKET`); a name starting
/// with `@` binds in the abstract namespace (one per network namespace), a path works across namespaces.
public final class NotifySocket: @unchecked Sendable {
    let fd: Int32
    public let name: String

    public struct BindFailed: Error, CustomStringConvertible {
        public var description: String
    }

    public init(name: String) throws {
        self.name = name
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(name.utf8)
        let abstract = path.first == UInt8(ascii: "@")
        if abstract { path[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw BindFailed(description: "bind \(name): \(reason)")
        }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next datagram, or nil after two seconds.
    public func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : nil
    }

    /// Datagrams until one contains `text`, for up to `attempts` two-second waits; all of them, in order.
    public func receive(until text: String, attempts: Int = 15) -> [String] {
        var received: [String] = []
        for _ in 0..<attempts {
            guard let next = receive() else { continue }
            received.append(next)
            if next.contains(text) { break }
        }
        return received
    }

    deinit {
        close(fd)
        if !name.hasPrefix("@") { unlink(name) }
    }
}
