import CLinuxNet
import WeftCore

#if canImport(Glibc)
    import Glibc
#endif

/// Where a redirected TCP connection was going before the capture's `redirect` rewrote it.
public enum OriginalDestination {
    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        /// The socket was not redirected by netfilter (ENOENT), e.g. a direct connection to the listener.
        case notRedirected
        case getsockopt(errno: Int32)
        case unsupportedFamily(Int32)

        public var description: String {
            switch self {
            case .notRedirected:
                return "the connection was not redirected by the capture (no original destination in conntrack)"
            case .getsockopt(let e):
                return "cannot read the original destination: \(String(cString: strerror(e)))"
            case .unsupportedFamily(let family):
                return "original destination has unsupported address family \(family)"
            }
        }
    }

    /// The getsockopt level and option name to read it, for an IPv4 or an IPv6 socket.
    public static func socketOption(forIPv6 isIPv6: Bool) -> (level: Int32, name: Int32) {
        isIPv6 ? (WEFT_SOL_IPV6, WEFT_IP6T_SO_ORIGINAL_DST) : (WEFT_SOL_IP, WEFT_SO_ORIGINAL_DST)
    }

    /// Reads the original destination of an accepted socket.
    public static func of(socket fd: Int32, isIPv6: Bool) throws(Error) -> IPSocketAddress {
        let option = socketOption(forIPv6: isIPv6)
        var storage = sockaddr_in6()
        var length = socklen_t(isIPv6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            getsockopt(fd, option.level, option.name, $0, &length)
        }
        guard rc == 0 else {
            let e = errno
            throw e == ENOENT ? .notRedirected : .getsockopt(errno: e)
        }
        return try decode(storage)
    }

    /// Decodes a `sockaddr_in6`-sized buffer holding either a `sockaddr_in` or a `sockaddr_in6`.
    public static func decode(_ storage: sockaddr_in6) throws(Error) -> IPSocketAddress {
        switch Int32(storage.sin6_family) {
        case AF_INET:
            var copy = storage
            let v4 = withUnsafeBytes(of: &copy) { $0.load(as: sockaddr_in.self) }
            return decode(v4)
        case AF_INET6:
            let bytes = withUnsafeBytes(of: storage.sin6_addr) { Array($0) }
            return IPSocketAddress(address: IPAddress(bytes: bytes)!, port: UInt16(bigEndian: storage.sin6_port))
        default:
            throw .unsupportedFamily(Int32(storage.sin6_family))
        }
    }

    public static func decode(_ v4: sockaddr_in) -> IPSocketAddress {
        IPSocketAddress(address: .v4(UInt32(bigEndian: v4.sin_addr.s_addr)), port: UInt16(bigEndian: v4.sin_port))
    }
}
