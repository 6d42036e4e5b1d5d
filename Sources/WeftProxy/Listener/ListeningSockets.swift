import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WeftCore

/// The listening sockets of one listener: bound together, closed together.
final class ListeningSockets: Sendable {
    private let table: ListenSocketTable
    private let live: LiveConnections
    private let channels = NIOLockedValueBox<[any Channel]>([])

    /// `table` gives the sockets: a predecessor's after a hitless restart, else new ones. Every accepted connection
    /// counts in `live` from its accept to its close, so a drain never ends under one still being set up.
    init(table: ListenSocketTable, live: LiveConnections) {
        self.table = table
        self.live = live
    }

    /// Binds every address with the child options and initializer `configure` adds. An IPv6 socket takes IPv6
    /// only: IPv4 connections belong to the IPv4 socket (where, for captured ones, the original destination is read
    /// with the IPv4 option). If one address fails, the others are closed again.
    func bind(
        _ addresses: [IPSocketAddress], group: any EventLoopGroup, backlog: Int32,
        configure: (ServerBootstrap) -> ServerBootstrap
    ) async throws -> [SocketAddress] {
        var bound: [SocketAddress] = []
        for address in addresses {
            do {
                let fd = try table.socket(for: ListenSocketKey(.tcp, address), backlog: backlog)
                let live = self.live
                let bootstrap = ServerBootstrap(group: group).serverChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(AdmitAccepted(live: live))
                    }
                }
                let channel = try await configure(bootstrap).withBoundSocket(fd).get()
                channels.withLockedValue { $0.append(channel) }
                if let local = channel.localAddress { bound.append(local) }
            } catch {
                await close()
                throw CaptureListener.Error.bind(address, underlying: error)
            }
        }
        return bound
    }

    /// Stops accepting but keeps the sockets open: a connection NIO accepted a moment ago is still being set up on
    /// another event loop, and NIO closes such a connection if its listening channel closed meanwhile. Close later.
    func pause() async {
        for channel in channels.withLockedValue({ $0 }) {
            try? await channel.setOption(ChannelOptions.autoRead, value: false).get()
        }
    }

    /// Stops accepting and closes the sockets; connections already accepted are not touched.
    func close() async {
        let all = channels.withLockedValue { channels in
            defer { channels.removeAll() }
            return channels
        }
        for channel in all { try? await channel.close() }
    }
}

/// On a listening channel: counts each accepted connection in `live` at once (its channel is registered and made
/// active later, on its own loop).
private final class AdmitAccepted: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let live: LiveConnections

    init(live: LiveConnections) {
        self.live = live
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        live.admit(until: unwrapInboundIn(data).closeFuture)
        context.fireChannelRead(data)
    }
}
