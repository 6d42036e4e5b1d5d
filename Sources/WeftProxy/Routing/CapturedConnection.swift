import WeftCore

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
