import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WeftCore

/// The listening sockets of one listener: bound together, closed together.
final class ListeningSockets: Sendable {
    private let channels = NIOLockedValueBox<[any Channel]>([])

    /// Binds every address with the child options and initializer `configure` adds. An IPv6 socket takes IPv6
    /// only: IPv4 connections belong to the IPv4 socket (where, for captured ones, the original destination is read
    /// with the IPv4 option). If one address fails, the others are closed again.
    func bind(
        _ addresses: [IPSocketAddress], group: any EventLoopGroup, backlog: Int32,
        configure: (ServerBootstrap) -> ServerBootstrap
    ) async throws -> [SocketAddress] {
        var bound: [SocketAddress] = []
        for address in addresses {
            var bootstrap = ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.backlog, value: backlog)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            if !address.address.isIPv4 {
                bootstrap = bootstrap.serverChannelOption(
                    ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 1)
            }
            do {
                let channel = try await configure(bootstrap).bind(to: try SocketAddress(address)).get()
                channels.withLockedValue { $0.append(channel) }
                if let local = channel.localAddress { bound.append(local) }
            } catch {
                await close()
                throw CaptureListener.Error.bind(address, underlying: error)
            }
        }
        return bound
    }

    /// Stops accepting; connections already accepted are not touched.
    func close() async {
        let all = channels.withLockedValue { channels in
            defer { channels.removeAll() }
            return channels
        }
        for channel in all { try? await channel.close() }
    }
}
