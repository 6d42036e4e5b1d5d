import WeftCore

/// Where a tunnel goes and as whom: the destination node (its HBONE address and the node identity it must present)
/// and the local service calling.
public struct HBONEPeer: Sendable, Hashable, CustomStringConvertible {
    public var node: String
    public var address: IPSocketAddress
    public var source: ServiceName

    public init(node: String, address: IPSocketAddress, source: ServiceName) {
        self.node = node
        self.address = address
        self.source = source
    }

    public var description: String { "\(source)→node \(node) (\(address))" }
}
