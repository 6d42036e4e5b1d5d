import WeftCore

/// A connection carried to another node: the HBONE peer and the endpoint asked for in the CONNECT.
public struct HBONETunnel: Sendable, Equatable {
    public var peer: HBONEPeer
    public var authority: IPSocketAddress
    public var destination: ServiceName

    public init(peer: HBONEPeer, authority: IPSocketAddress, destination: ServiceName) {
        self.peer = peer
        self.authority = authority
        self.destination = destination
    }
}
