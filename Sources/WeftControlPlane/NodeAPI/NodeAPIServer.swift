import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import NIOPosix
import WeftAPI
import WeftCore

/// The node API's two gRPC listeners: the node listener (mTLS; the client certificate must chain to the trust
/// bundle) and the join listener (server TLS only, for nodes that have no certificate yet).
public struct NodeAPIServer: Sendable {
    public struct Listeners: Sendable, Equatable {
        public var node: IPSocketAddress
        public var join: IPSocketAddress
    }

    let service: NodeAPIService
    let nodeAddress: IPSocketAddress
    let joinAddress: IPSocketAddress
    let certificateChainPEM: String
    let privateKeyPEM: String
    let trustBundlePEM: String

    init(
        service: NodeAPIService, nodeAddress: IPSocketAddress, joinAddress: IPSocketAddress,
        certificateChainPEM: String,
        privateKeyPEM: String, trustBundlePEM: String
    ) {
        self.service = service
        self.nodeAddress = nodeAddress
        self.joinAddress = joinAddress
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
        self.trustBundlePEM = trustBundlePEM
    }

    /// Serves until cancelled; `onListening` gets the bound addresses (port 0 binds a free port).
    func run(onListening: @escaping @Sendable (Listeners) -> Void) async throws {
        let chain: [TLSConfig.CertificateSource] = [.bytes(Array(certificateChainPEM.utf8), format: .pem)]
        let key: TLSConfig.PrivateKeySource = .bytes(Array(privateKeyPEM.utf8), format: .pem)
        let nodeTransport = HTTP2ServerTransport.Posix(
            address: Self.grpcAddress(nodeAddress),
            transportSecurity: .mTLS(certificateChain: chain, privateKey: key) { config in
                config.trustRoots = .certificates([.bytes(Array(trustBundlePEM.utf8), format: .pem)])
            },
            config: Self.transportConfig
        )
        let joinTransport = HTTP2ServerTransport.Posix(
            address: Self.grpcAddress(joinAddress),
            transportSecurity: .tls(certificateChain: chain, privateKey: key),
            config: Self.transportConfig
        )
        let nodeServer = GRPCServer(transport: nodeTransport, services: [service])
        let joinServer = GRPCServer(transport: joinTransport, services: [service])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await nodeServer.serve() }
            group.addTask { try await joinServer.serve() }
            group.addTask {
                let node = try await nodeTransport.listeningAddress
                let join = try await joinTransport.listeningAddress
                onListening(Listeners(node: try Self.socketAddress(node), join: try Self.socketAddress(join)))
            }
            try await group.next()
            try await group.next()
            try await group.next()
        }
    }

    static var transportConfig: HTTP2ServerTransport.Posix.Config {
        var config = HTTP2ServerTransport.Posix.Config.defaults
        // Nodes hold one long-lived Watch stream; keepalive finds dead peers behind NAT or a powered-off host, and
        // lets nodes ping as often as they do.
        config.connection.maxIdleTime = nil
        config.connection.maxGraceTime = NodeLinkKeepalive.graceTime
        config.connection.keepalive = .init(
            time: NodeLinkKeepalive.time, timeout: NodeLinkKeepalive.timeout,
            clientBehavior: .init(minPingIntervalWithoutCalls: NodeLinkKeepalive.time / 2, allowWithoutCalls: true))
        // gRPC's keepalive ends a dead connection gracefully, waiting for an answer that never comes; the kernel's
        // TCP keepalive and user timeout close it: silence for `time`, then one probe or unacknowledged data
        // given up after `timeout`.
        config.channelDebuggingCallbacks.onAcceptTCPConnection = { channel in
            let seconds = { (duration: Duration) in SocketOptionValue(duration.components.seconds) }
            let options: [(Int32, Int32, SocketOptionValue)] = [
                (SOL_SOCKET, SO_KEEPALIVE, 1),
                (Int32(IPPROTO_TCP), TCP_KEEPIDLE, seconds(NodeLinkKeepalive.time)),
                (Int32(IPPROTO_TCP), TCP_KEEPINTVL, seconds(NodeLinkKeepalive.timeout)),
                (Int32(IPPROTO_TCP), TCP_KEEPCNT, 1),
                (
                    Int32(IPPROTO_TCP), TCP_USER_TIMEOUT,
                    SocketOptionValue((NodeLinkKeepalive.time + NodeLinkKeepalive.timeout).wholeMilliseconds)
                ),
            ]
            return options.reduce(channel.eventLoop.makeSucceededVoidFuture()) { done, option in
                done.flatMap {
                    channel.setOption(
                        ChannelOptions.Types.SocketOption(
                            level: SocketOptionLevel(option.0), name: SocketOptionName(option.1)),
                        value: option.2)
                }
            }
        }
        config.http2.maxConcurrentStreams = 64
        return config
    }

    static func grpcAddress(_ address: IPSocketAddress) -> GRPCNIOTransportCore.SocketAddress {
        address.address.isIPv4
            ? .ipv4(host: address.address.description, port: Int(address.port))
            : .ipv6(host: address.address.description, port: Int(address.port))
    }

    struct UnexpectedAddress: Error, CustomStringConvertible {
        var address: String
        var description: String { "the node API bound an address that is not IP: \(address)" }
    }

    static func socketAddress(_ address: GRPCNIOTransportCore.SocketAddress) throws -> IPSocketAddress {
        if let v4 = address.ipv4, let ip = IPAddress(v4.host), let port = UInt16(exactly: v4.port) {
            return IPSocketAddress(address: ip, port: port)
        }
        if let v6 = address.ipv6, let ip = IPAddress(v6.host), let port = UInt16(exactly: v6.port) {
            return IPSocketAddress(address: ip, port: port)
        }
        throw UnexpectedAddress(address: "\(address)")
    }
}
