import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// SO_MARK: the capture rules let sockets carrying the node's mark pass, so the node's own connections are never
/// captured.
public enum SocketMark {
    public static let option = ChannelOptions.Types.SocketOption(
        level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_MARK))
}

extension ClientBootstrap {
    /// Puts SO_MARK `mark` on the socket (when given), so the capture rules let the proxy's own connections pass.
    public func marking(_ mark: UInt32?) -> ClientBootstrap {
        guard let mark else { return self }
        return channelOption(SocketMark.option, value: SocketOptionValue(mark))
    }
}
