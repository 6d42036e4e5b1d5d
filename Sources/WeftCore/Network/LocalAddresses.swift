#if canImport(Glibc)
    import Glibc
#endif

/// The host's interface addresses (link-local IPv6 left out): the names in weftd's server certificate, and the
/// addresses a node registers its endpoints at. The one place WeftCore reads system state.
public enum LocalAddresses {
    public static func all() -> [IPAddress] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var result: [IPAddress] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr else { continue }
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    result.append(.v4(UInt32(bigEndian: sin.pointee.sin_addr.s_addr)))
                }
            case AF_INET6:
                address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    let bytes = withUnsafeBytes(of: sin6.pointee.sin6_addr) { Array($0) }
                    if let ip = IPAddress(bytes: bytes), !ip.isLinkLocal { result.append(ip) }
                }
            default:
                continue
            }
        }
        return Array(Set(result)).sorted { $0.description < $1.description }
    }
}
