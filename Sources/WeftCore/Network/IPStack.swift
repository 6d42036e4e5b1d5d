#if canImport(Glibc)
    import Glibc
#endif

/// What the host's IP stack offers, probed once: a node listens on what exists and says what it skipped.
public enum IPStack {
    /// False when IPv6 is off on this host (`net.ipv6.conf.all.disable_ipv6=1`, `ipv6.disable=1`, or no ::1).
    public static let hasIPv6: Bool = {
        let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0
            }
        }
    }()
}
