import NIOCore
import NIOPosix
import WeftCore

/// Opens the proxy's own outgoing TCP connections: marked so the capture skips them, not reading until relayed.
public struct UpstreamConnector: Sendable {
    /// SO_MARK put on every socket; must equal the mark the capture rules skip.
    public var socketMark: UInt32?
    public var connectTimeout: TimeAmount

    public init(socketMark: UInt32?, connectTimeout: TimeAmount = .seconds(5)) {
        self.socketMark = socketMark
        self.connectTimeout = connectTimeout
    }

    /// Connects on `eventLoop` (the accepted channel's, so a relay stays on one loop). The channel has
    /// `autoRead` off and half-closure on; the caller installs its handlers and then turns reading on.
    public func connect(to destination: IPSocketAddress, on eventLoop: any EventLoop) -> EventLoopFuture<any Channel> {
        let address: SocketAddress
        do {
            address = try SocketAddress(destination)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(ChannelOptions.autoRead, value: false)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .marking(socketMark)
            .connect(to: address)
    }
}
