import CLinuxNet
import WeftCore

#if canImport(Glibc)
    import Glibc
#endif

/// Finds what netfilter rewrote in a redirected connection, from its conntrack entry.
public enum ConntrackLookup {
    public struct Error: Swift.Error, Equatable, CustomStringConvertible {
        public var errno: Int32
        public var description: String { "conntrack: \(String(cString: strerror(errno)))" }
    }

    /// The client's own address and port for a connection the proxy accepted on `listener` from `client`: netfilter
    /// remaps the source port when the redirected tuple would clash with another entry (the same client port used
    /// again to another destination while the first entry lingers in TIME_WAIT). Nil when conntrack has no entry.
    public static func originalSource(client: IPSocketAddress, listener: IPSocketAddress) throws(Error)
        -> IPSocketAddress?
    {
        guard client.address.isIPv4 == listener.address.isIPv4 else { return nil }
        let family = client.address.isIPv4 ? AF_INET : AF_INET6
        var address = [UInt8](repeating: 0, count: 16)
        var port: UInt16 = 0
        let rc = listener.address.bytes.withUnsafeBufferPointer { source in
            client.address.bytes.withUnsafeBufferPointer { destination in
                weft_conntrack_original_source(
                    family, source.baseAddress, listener.port, destination.baseAddress, client.port, &address, &port)
            }
        }
        guard rc >= 0 else { throw Error(errno: -rc) }
        guard rc == 1, let original = IPAddress(bytes: Array(address.prefix(client.address.isIPv4 ? 4 : 16))) else {
            return nil
        }
        return IPSocketAddress(address: original, port: port)
    }
}
