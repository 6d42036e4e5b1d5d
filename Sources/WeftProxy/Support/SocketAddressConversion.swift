import NIOCore
import WeftCore

extension SocketAddress {
    /// The NIO form of a Weft socket address.
    public init(_ address: IPSocketAddress) throws {
        try self.init(ipAddress: address.address.description, port: Int(address.port))
    }
}

extension IPSocketAddress {
    /// The Weft form of an IPv4 or IPv6 NIO socket address; nil for Unix sockets.
    public init?(nio address: SocketAddress) {
        guard let ip = address.ipAddress, let parsed = IPAddress(ip), let port = address.port else { return nil }
        self.init(address: parsed, port: UInt16(port))
    }
}
