import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import WeftAPI
import WeftCore
import WeftProxy

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A node's authenticated connection to the node listener: mTLS with the node certificate, the server verified
/// against the trust bundle. One HTTP/2 connection carries every call.
public final class NodeSession: Sendable {
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let service: Weft_Node_V1_NodeService.Client<HTTP2ClientTransport.Posix>
    public let credentials: NodeCredentials

    /// `socketMark`: the capture's mark, put on the connection so the node's own rules never capture it.
    public init(address: IPSocketAddress, credentials: NodeCredentials, socketMark: UInt32? = nil) throws {
        let transport = try HTTP2ClientTransport.Posix(
            target: NodeAPIAddress.target(address),
            transportSecurity: .mTLS(
                certificateChain: [.bytes(Array(credentials.certificateChainPEM.utf8), format: .pem)],
                privateKey: .bytes(Array(credentials.privateKeyPEM.utf8), format: .pem)
            ) { $0.trustRoots = .certificates([.bytes(Array(credentials.trustBundlePEM.utf8), format: .pem)]) },
            config: .marking(socketMark)
        )
        client = GRPCClient(transport: transport)
        service = Weft_Node_V1_NodeService.Client(wrapping: client)
        self.credentials = credentials
    }

    /// Runs the connection until `close()` or cancellation; calls wait for it to be running.
    public func run() async throws {
        try await client.runConnections()
    }

    /// Every unary call has a deadline: a control plane that accepts and never answers fails the call, and the
    /// caller retries, instead of holding it forever.
    static let unary: CallOptions = {
        var options = CallOptions.defaults
        options.timeout = .seconds(10)
        return options
    }()

    public func close() {
        client.beginGracefulShutdown()
    }

    /// Registers what runs on this node (the control plane replaces what the node registered before).
    public func register(_ registration: NodeRegistration, version: String) async throws(ControlPlaneClientError)
        -> Int64
    {
        var request = Weft_Node_V1_RegisterRequest()
        request.addresses = registration.addresses.map(\.description)
        request.version = version
        request.services = registration.services.map { service in
            var registered = Weft_Node_V1_RegisteredService()
            registered.name = service.name.description
            registered.protocol = service.protocol.rawValue
            registered.labels = service.labels
            registered.endpoints = service.endpoints.map { address in
                var endpoint = Weft_Node_V1_Endpoint()
                endpoint.address = address.address.description
                endpoint.port = UInt32(address.port)
                endpoint.healthy = true
                return endpoint
            }
            return registered
        }
        return try await register(request)
    }

    /// Sends a registration as it is on the wire (tests use it to send what a well-behaved node would not).
    public func register(_ request: Weft_Node_V1_RegisterRequest) async throws(ControlPlaneClientError) -> Int64 {
        do { return try await service.register(request, options: Self.unary).revision } catch { throw .from(error) }
    }

    /// A certificate for `identity` from a CSR made by the caller.
    public func signCertificate(identity: SPIFFEID, csrPEM: String, ttl: Duration? = nil)
        async throws(ControlPlaneClientError) -> (chainPEM: String, notAfter: Date)
    {
        var request = Weft_Node_V1_SignCertificateRequest()
        request.spiffeID = identity.description
        request.csrPem = csrPEM
        request.ttlSeconds = ttl?.components.seconds ?? 0
        do {
            let response = try await service.signCertificate(request, options: Self.unary)
            return (response.certificateChainPem, Date(timeIntervalSince1970: TimeInterval(response.notAfter)))
        } catch { throw .from(error) }
    }

    /// Watches the node's config: subscribes with what `cache` holds and applies each update to it. An update that
    /// assembles into a valid config goes to `onConfig`, and is ACKed when that puts it into effect; one that does
    /// not assemble, or fails to take effect, is NACKed with the reason. Returns when the stream ends.
    public func watch(
        cache: ConfigCache,
        onConfig:
            @escaping @Sendable (CompiledNodeConfig, _ update: ConfigCache.UpdateSummary) async ->
            ConfigApplyOutcome
    ) async throws(ControlPlaneClientError) {
        let (outbox, outboxContinuation) = AsyncStream.makeStream(of: Weft_Node_V1_WatchRequest.self)
        var subscribe = Weft_Node_V1_Subscribe()
        let held = cache.held
        subscribe.version = held.version
        subscribe.resourceVersions = held.resourceVersions
        subscribe.heartbeatIntervalMs = UInt32(NodeLinkKeepalive.heartbeatInterval.wholeMilliseconds)
        var first = Weft_Node_V1_WatchRequest()
        first.kind = .subscribe(subscribe)
        outboxContinuation.yield(first)
        defer { outboxContinuation.finish() }
        do {
            try await service.watch(
                requestProducer: { writer in
                    // Heartbeats tell the control plane this node is alive (see NodeLinkKeepalive).
                    let heartbeats = Task {
                        var heartbeat = Weft_Node_V1_WatchRequest()
                        heartbeat.kind = .heartbeat(Weft_Node_V1_Heartbeat())
                        while !Task.isCancelled {
                            try await Task.sleep(for: NodeLinkKeepalive.heartbeatInterval)
                            outboxContinuation.yield(heartbeat)
                        }
                    }
                    defer { heartbeats.cancel() }
                    for await message in outbox { try await writer.write(message) }
                },
                onResponse: { response in
                    for try await update in response.messages {
                        var reply = Weft_Node_V1_WatchRequest()
                        let outcome: ConfigApplyOutcome =
                            switch cache.apply(update) {
                            case .success(let (config, summary)): await onConfig(config, summary)
                            case .failure(let error): .failed(reason: error.description)
                            }
                        switch outcome {
                        case .applied:
                            var ack = Weft_Node_V1_Ack()
                            ack.version = update.version
                            reply.kind = .ack(ack)
                        case .failed(let reason):
                            var nack = Weft_Node_V1_Nack()
                            nack.version = update.version
                            nack.reason = reason
                            reply.kind = .nack(nack)
                        }
                        outboxContinuation.yield(reply)
                    }
                }
            )
        } catch {
            throw .from(error)
        }
    }
}

extension HTTP2ClientTransport.Posix.Config {
    /// The defaults with keepalive (``NodeLinkKeepalive``), and SO_MARK `mark` (when given) put on each
    /// connection's socket before it connects.
    static func marking(_ mark: UInt32?) -> Self {
        var config = Self.defaults
        config.connection.keepalive = .init(
            time: NodeLinkKeepalive.time, timeout: NodeLinkKeepalive.timeout, allowWithoutCalls: true)
        if let mark {
            config.channelDebuggingCallbacks.onCreateTCPConnection = { channel in
                channel.setOption(SocketMark.option, value: SocketOptionValue(mark))
            }
        }
        return config
    }
}
