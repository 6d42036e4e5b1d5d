import CLinuxNet
import Synchronization
import WeftCore

#if canImport(Glibc)
    import Glibc
#endif

/// The owner of a local TCP socket, as the kernel's sock_diag reports it.
public struct SocketOwner: Sendable, Equatable {
    public var uid: UInt32
    public var inode: UInt64
    /// The cgroup v2 id of the cgroup the socket was created in; 0 when unknown.
    public var cgroupID: UInt64
}

/// A TCP socket in LISTEN state with its owner.
public struct ListeningSocket: Sendable, Equatable {
    public var address: IPSocketAddress
    public var owner: SocketOwner
}

/// Queries the kernel's socket table (NETLINK_SOCK_DIAG / inet_diag) of one network namespace.
///
/// One netlink socket, used under a lock: an exact lookup is a single request the kernel answers inline
/// (no waiting on the network), a few microseconds, so callers on event loops may use it directly.
public final class SocketDiagnostics: @unchecked Sendable {
    public enum Error: Swift.Error, CustomStringConvertible {
        case open(errno: Int32)
        case query(errno: Int32)

        public var description: String {
            switch self {
            case .open(let e):
                return "cannot open a sock_diag netlink socket: \(String(cString: strerror(e)))"
            case .query(let e):
                return "sock_diag query failed: \(String(cString: strerror(e)))"
            }
        }
    }

    private let fd: Int32
    private let lock = Mutex(())

    /// Opens the netlink socket in the current network namespace, or in the one at `namespacePath`.
    public init(namespacePath: String? = nil) throws {
        let fd = try NetworkNamespace.perform(inNamespaceAt: namespacePath) { weft_sock_diag_open() }
        guard fd >= 0 else { throw Error.open(errno: -fd) }
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    /// The owner of the TCP socket whose own address is `local` and whose peer is `remote`; nil if none exists.
    ///
    /// For a captured connection: `local` is the client's address (the accepted socket's peer), `remote` the
    /// original destination.
    public func owner(ofTCPConnectionFrom local: IPSocketAddress, to remote: IPSocketAddress) throws -> SocketOwner? {
        guard local.address.isIPv4 == remote.address.isIPv4 else { return nil }
        let family = local.address.isIPv4 ? AF_INET : AF_INET6
        var found = weft_tcp_socket()
        let rc = lock.withLock { _ in
            local.address.bytes.withUnsafeBufferPointer { l in
                remote.address.bytes.withUnsafeBufferPointer { r in
                    weft_sock_diag_lookup(fd, family, l.baseAddress, local.port, r.baseAddress, remote.port, &found)
                }
            }
        }
        guard rc >= 0 else { throw Error.query(errno: -rc) }
        // The kernel's exact lookup falls back to a listener on the local port: only a connected socket with this
        // whole 4-tuple is the client (which may have sent its FIN already: FIN_WAIT and later states count).
        let listening: UInt8 = 10  // TCP_LISTEN
        guard rc == 1, found.state != listening, Self.local(found) == local, Self.remote(found) == remote else {
            return nil
        }
        return Self.owner(found)
    }

    /// Every TCP socket in LISTEN state, IPv4 and IPv6.
    public func listeningTCPSockets() throws -> [ListeningSocket] {
        let listen: UInt32 = 1 << 10  // TCP_LISTEN
        return try [AF_INET, AF_INET6].flatMap { family in
            try dump(family: family, states: listen).map {
                ListeningSocket(address: Self.local($0), owner: Self.owner($0))
            }
        }
    }

    private func dump(family: Int32, states: UInt32) throws -> [weft_tcp_socket] {
        var capacity = 256
        while true {
            var buffer = [weft_tcp_socket](repeating: weft_tcp_socket(), count: capacity)
            let count = lock.withLock { _ in
                buffer.withUnsafeMutableBufferPointer {
                    weft_sock_diag_dump(fd, family, states, $0.baseAddress, Int32(capacity))
                }
            }
            guard count >= 0 else { throw Error.query(errno: -count) }
            if Int(count) <= capacity { return Array(buffer.prefix(Int(count))) }
            capacity = Int(count) + 64  // sockets appeared between calls; ask again with room to spare
        }
    }

    private static func owner(_ s: weft_tcp_socket) -> SocketOwner {
        SocketOwner(uid: s.uid, inode: s.inode, cgroupID: s.cgroup_id)
    }

    private static func local(_ s: weft_tcp_socket) -> IPSocketAddress {
        let bytes = withUnsafeBytes(of: s.local_addr) { Array($0.prefix(Int32(s.family) == AF_INET ? 4 : 16)) }
        return IPSocketAddress(address: IPAddress(bytes: bytes)!, port: s.local_port)
    }

    private static func remote(_ s: weft_tcp_socket) -> IPSocketAddress {
        let bytes = withUnsafeBytes(of: s.remote_addr) { Array($0.prefix(Int32(s.family) == AF_INET ? 4 : 16)) }
        return IPSocketAddress(address: IPAddress(bytes: bytes)!, port: s.remote_port)
    }
}
