import WeftCore

/// The IP address in a gRPC `remotePeer` string (`ipv4:198.18.0.2:41000`, `ipv6:[2001:2::2]:41000`); an
/// IPv4-mapped IPv6 address is given as IPv4. Nil for unix sockets and anything else.
enum GRPCPeer {
    static func address(_ peer: String) -> IPAddress? {
        let host: Substring
        if peer.hasPrefix("ipv4:") {
            let rest = peer.dropFirst("ipv4:".count)
            guard let colon = rest.lastIndex(of: ":") else { return nil }
            host = rest[..<colon]
        } else if peer.hasPrefix("ipv6:["), let close = peer.firstIndex(of: "]") {
            host = peer[peer.index(peer.startIndex, offsetBy: "ipv6:[".count)..<close]
        } else {
            return nil
        }
        guard let address = IPAddress(host) else { return nil }
        if case .v6(0, let low) = address, low >> 32 == 0xFFFF {
            return .v4(UInt32(truncatingIfNeeded: low))
        }
        return address
    }
}
