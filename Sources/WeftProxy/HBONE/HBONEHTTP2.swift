import NIOCore
import NIOHTTP2

#if canImport(Glibc)
    import Glibc
#endif

/// The HTTP/2 settings both ends of an HBONE connection use: flow-control windows large enough for bulk transfers
/// on a LAN, and stream buffers that push back on the relay before memory grows.
enum HBONEHTTP2 {
    static func configurations(maxConcurrentStreams: Int, streamWindow: Int, connectionWindow: Int)
        -> (connection: NIOHTTP2Handler.ConnectionConfiguration, stream: NIOHTTP2Handler.StreamConfiguration)
    {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: streamWindow),
            HTTP2Setting(parameter: .maxFrameSize, value: 1 << 16),
        ]
        connection.targetWindowSize = connectionWindow
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = streamWindow
        stream.outboundBufferSizeHighWatermark = 256 << 10
        stream.outboundBufferSizeLowWatermark = 64 << 10
        return (connection, stream)
    }

    /// Socket options of both ends of an HBONE connection, so that a peer that vanished (powered off, cut off) is
    /// noticed within about half a minute and its tunnels end instead of hanging: TCP keepalive after 15 s idle,
    /// probes every 5 s, 3 of them; unacknowledged data given up after 30 s (TCP_USER_TIMEOUT).
    static let deadPeerDetection: [(ChannelOptions.Types.SocketOption, SocketOptionValue)] = [
        (
            ChannelOptions.Types.SocketOption(
                level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_KEEPALIVE)), 1
        ),
        (
            ChannelOptions.Types.SocketOption(
                level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_KEEPIDLE)), 15
        ),
        (
            ChannelOptions.Types.SocketOption(
                level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_KEEPINTVL)), 5
        ),
        (
            ChannelOptions.Types.SocketOption(
                level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_KEEPCNT)), 3
        ),
        (
            ChannelOptions.Types.SocketOption(
                level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_USER_TIMEOUT)), 30_000
        ),
    ]
}
