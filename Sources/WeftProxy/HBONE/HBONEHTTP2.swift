import NIOHTTP2

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
}
