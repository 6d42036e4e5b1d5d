#if canImport(Glibc)
    import Glibc
#endif

/// Which listening socket: its transport and the address it was asked to bind (port 0 stays 0), so a successor
/// asking for the same address finds it.
public struct ListenSocketKey: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Transport: String, Sendable, Codable {
        case tcp, udp
    }

    public var transport: Transport
    public var address: IPSocketAddress

    public init(_ transport: Transport, _ address: IPSocketAddress) {
        self.transport = transport
        self.address = address
    }

    public var description: String { "\(transport.rawValue) \(address)" }
}

/// Why a listening socket could not be opened: the call that failed and strerror's words.
public struct ListenSocketError: Error, CustomStringConvertible {
    public var key: ListenSocketKey
    public var call: String
    public var errno: Int32

    public var description: String { "cannot open \(key): \(call): \(String(cString: strerror(errno)))" }
}

/// Opens listening sockets the way every Weft listener wants them: close-on-exec, SO_REUSEADDR for TCP (not for
/// UDP, where Linux would let a second resolver share the port silently), IPv6 sockets IPv6-only (IPv4 belongs to
/// the IPv4 socket), TCP already listening. The caller hands the descriptor to NIO (`withBoundSocket`).
public enum ListenSocket {
    public static func open(_ key: ListenSocketKey, backlog: Int32) throws(ListenSocketError) -> Int32 {
        let ipv4 = key.address.address.isIPv4
        let type = key.transport == .tcp ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)
        let fd = socket(ipv4 ? AF_INET : AF_INET6, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ListenSocketError(key: key, call: "socket", errno: errno) }
        func fail(_ call: String) -> ListenSocketError {
            let error = ListenSocketError(key: key, call: call, errno: errno)
            close(fd)
            return error
        }
        var one: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        if key.transport == .tcp, setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, size) != 0 {
            throw fail("setsockopt SO_REUSEADDR")
        }
        if !ipv4, setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, size) != 0 {
            throw fail("setsockopt IPV6_V6ONLY")
        }
        guard bind(fd, key.address) == 0 else { throw fail("bind") }
        if key.transport == .tcp, listen(fd, backlog) != 0 { throw fail("listen") }
        return fd
    }

    /// The port an IPv4 or IPv6 socket is bound to (0 when it is not).
    public static func localPort(_ fd: Int32) -> UInt16 {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return withUnsafeBytes(of: &address) { bytes in
            // sin_port and sin6_port sit at the same offset, in network order.
            UInt16(bigEndian: bytes.load(fromByteOffset: 2, as: UInt16.self))
        }
    }

    private static func bind(_ fd: Int32, _ address: IPSocketAddress) -> Int32 {
        let bytes = address.address.bytes
        if address.address.isIPv4 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = address.port.bigEndian
            withUnsafeMutableBytes(of: &sin.sin_addr) { $0.copyBytes(from: bytes) }
            return bind(fd, sin)
        }
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = address.port.bigEndian
        withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyBytes(from: bytes) }
        return bind(fd, sin6)
    }

    /// bind(2) with a `sockaddr_in` or `sockaddr_in6`.
    private static func bind<Address>(_ fd: Int32, _ address: Address) -> Int32 {
        withUnsafePointer(to: address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<Address>.size))
            }
        }
    }
}
