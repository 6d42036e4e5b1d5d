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

/// What a listener does with one captured connection.
public enum ConnectionDecision: Sendable, Equatable {
    /// Relay to this address as plain TCP (unmeshed passthrough, or a local workload).
    case forward(to: IPSocketAddress, destinationService: String?)
    /// Reset the client's connection.
    case refuse(reason: String)
}

/// Decides, from config values only, what happens to a captured connection.
public protocol ConnectionRouter: Sendable {
    func decide(_ connection: CapturedConnection) -> ConnectionDecision
}
