import NIOCore

/// Reads what the capture knows about an accepted socket (original destination, the client's workload).
///
/// Implemented by the node, which owns the capture; the proxy only asks. Called on the channel's event loop; the
/// future completes on it.
public protocol CapturedConnectionInspector: Sendable {
    func inspect(_ channel: any Channel) -> EventLoopFuture<CapturedConnection>
}
