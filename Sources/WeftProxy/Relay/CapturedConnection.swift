import NIOCore
import WeftCore

/// Who opened a captured connection on this host, as far as the node could tell.
public struct ConnectionSource: Sendable, Equatable {
    /// The local service the client process belongs to; nil for processes that are no known workload.
    public var service: String?
    /// The client's cgroup path relative to the cgroup2 root, when it is a local process.
    public var cgroupPath: String?
    public var uid: UInt32?

    public init(service: String? = nil, cgroupPath: String? = nil, uid: UInt32? = nil) {
        self.service = service
        self.cgroupPath = cgroupPath
        self.uid = uid
    }
}

/// A connection the capture steered into one of the node's listeners.
public struct CapturedConnection: Sendable, Equatable {
    /// The client's address (the accepted socket's peer).
    public var client: IPSocketAddress
    /// Where the client meant to connect before the redirect.
    public var originalDestination: IPSocketAddress
    public var source: ConnectionSource

    public init(client: IPSocketAddress, originalDestination: IPSocketAddress, source: ConnectionSource) {
        self.client = client
        self.originalDestination = originalDestination
        self.source = source
    }
}

/// Reads what the capture knows about an accepted socket (original destination, the client's workload).
///
/// Implemented by the node, which owns the capture; the proxy only asks. Called on the channel's event loop; the
/// future completes on it.
public protocol CapturedConnectionInspector: Sendable {
    func inspect(_ channel: any Channel) -> EventLoopFuture<CapturedConnection>
}

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

/// What a listener does with one captured connection; `source` and `destination` are the services it is
/// attributed to in telemetry and re-judged against on policy changes (nil: not a mesh workload / service).
public enum ConnectionDecision: Sendable, Equatable {
    /// Relay to this address as plain TCP (a workload on this node, or unmeshed passthrough).
    case forward(to: IPSocketAddress, source: ServiceName?, destination: ServiceName?)
    /// Relay through an HBONE stream to the endpoint's node.
    case tunnel(HBONETunnel, source: ServiceName)
    /// Reset the client's connection.
    case refuse(reason: String, source: ServiceName?, destination: ServiceName?)

    public static func refuse(reason: String) -> ConnectionDecision {
        .refuse(reason: reason, source: nil, destination: nil)
    }
}

/// Decides, from the proxy's current config only, what happens to a captured connection.
public protocol ConnectionRouter: Sendable {
    func decide(_ connection: CapturedConnection, config: ProxyConfig) -> ConnectionDecision
}
