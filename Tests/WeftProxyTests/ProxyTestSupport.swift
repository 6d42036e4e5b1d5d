import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import NIOPosix
import Testing
import WeftCore
import WeftIdentity

@testable import WeftProxy

// Shared fixtures of the WeftProxy tests: recorders for EmbeddedChannel pipelines, HTTP/2 frame builders, bounded
// waits, and a loopback mesh (a CA, an HBONE server for node "b" in front of an echo workload, and a client pool
// calling as "frontend").

// MARK: - EmbeddedChannel recorders

/// Records the outbound events that reach it (towards the socket) and passes every write through untouched. Only
/// `close(mode: .all)` goes on down: an `EmbeddedChannel` would treat any close as a full close.
final class OutboundRecorder: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = NIOAny
    var reads = 0
    var closeModes: [CloseMode] = []

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        closeModes.append(mode)
        if mode == .all {
            context.close(mode: mode, promise: promise)
        } else {
            promise?.succeed()
        }
    }
}

/// Counts the `ChannelEvent.inputClosed` events that pass it; reads go on to the channel's inbound buffer.
final class InputClosedCounter: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = NIOAny
    var count = 0

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { count += 1 }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Two EmbeddedChannels joined by a `RelayHandler` pair, each with an `OutboundRecorder` towards its socket.
/// `tunnelled`: the downstream side is an HBONE stream, an `HBONEStreamAdapter` between its recorder and the relay
/// (the server's inbound tunnel: the stream is downstream, the workload's socket upstream).
struct RelayFixture {
    let downstream = EmbeddedChannel()
    let upstream = EmbeddedChannel()
    let downstreamRecorder = OutboundRecorder()
    let upstreamRecorder = OutboundRecorder()
    let done: EventLoopPromise<RelayStats>

    init(tunnelled: Bool = false) throws {
        done = downstream.eventLoop.makePromise()
        let (d, u) = RelayHandler.matchedPair(completion: done)
        let adapter: [any ChannelHandler] = tunnelled ? [HBONEStreamAdapter()] : []
        try downstream.pipeline.syncOperations.addHandlers([downstreamRecorder] + adapter + [d])
        try upstream.pipeline.syncOperations.addHandlers([upstreamRecorder, u])
        let peer = try SocketAddress(ipAddress: "198.18.0.1", port: 1)
        try downstream.connect(to: peer).wait()
        try upstream.connect(to: peer).wait()
    }

    /// The byte counts once the relay completed, nil before.
    var stats: RelayStats? {
        guard case .success(let stats) = outcome(of: done.futureResult) else { return nil }
        return stats
    }

    /// Back-pressure: `reader` is not read while `partner` is not writable, and is read once it is again.
    static func expectReadsWaitForWritability(
        of partner: EmbeddedChannel, reading reader: EmbeddedChannel, recorder: OutboundRecorder,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        partner.isWritable = false
        reader.read()
        #expect(
            recorder.reads == 0, "must not read while the other side cannot take the bytes",
            sourceLocation: sourceLocation)
        partner.isWritable = true
        partner.pipeline.fireChannelWritabilityChanged()
        #expect(
            recorder.reads == 1, "the held read happens once the partner is writable again",
            sourceLocation: sourceLocation)
    }
}

/// The outcome of a future of an `EmbeddedEventLoop`, nil while it is pending (`wait()` is not for embedded loops).
func outcome<T: Sendable>(of future: EventLoopFuture<T>) -> Result<T, any Error>? {
    let box = NIOLockedValueBox<Result<T, any Error>?>(nil)
    future.whenComplete { result in box.withLockedValue { $0 = result } }
    return box.withLockedValue { $0 }
}

/// The error a pending-or-failed embedded future failed with, nil if it succeeded or is pending.
func failure<T: Sendable>(of future: EventLoopFuture<T>) -> (any Error)? {
    guard case .failure(let error) = outcome(of: future) else { return nil }
    return error
}

// MARK: - HTTP/2 frames

enum Frame {
    static func data(_ text: String, endStream: Bool = false) -> HTTP2Frame.FramePayload {
        .data(.init(data: .byteBuffer(ByteBuffer(string: text)), endStream: endStream))
    }

    static func headers(_ fields: [(String, String)], endStream: Bool = false) -> HTTP2Frame.FramePayload {
        .headers(.init(headers: HPACKHeaders(fields), endStream: endStream))
    }

    static func connect(_ authority: String, requestID: String? = nil) -> HTTP2Frame.FramePayload {
        headers([(":method", "CONNECT"), (":authority", authority)] + (requestID.map { [("x-request-id", $0)] } ?? []))
    }
}

extension HTTP2Frame.FramePayload {
    /// The payload of a DATA frame as text; nil for other frames.
    var dataText: String? {
        guard case .data(let data) = self, case .byteBuffer(let buffer) = data.data else { return nil }
        return String(buffer: buffer)
    }

    var headerFields: HPACKHeaders? {
        guard case .headers(let headers) = self else { return nil }
        return headers.headers
    }

    var endsStream: Bool {
        switch self {
        case .data(let data): data.endStream
        case .headers(let headers): headers.endStream
        default: false
        }
    }

    var isReset: Bool {
        if case .rstStream = self { return true }
        return false
    }
}

extension EmbeddedChannel {
    /// Every frame written so far, oldest first.
    func outboundFrames() throws -> [HTTP2Frame.FramePayload] {
        var frames: [HTTP2Frame.FramePayload] = []
        while let frame = try readOutbound(as: HTTP2Frame.FramePayload.self) { frames.append(frame) }
        return frames
    }

    /// Every inbound byte buffer that reached the end of the pipeline, as text.
    func inboundText() throws -> String {
        var text = ""
        while let buffer = try readInbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }
}

// MARK: - Bounded waits

struct TimedOut: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Waits for `future` on a real event loop, failing with `TimedOut` after `timeout`.
func value<T: Sendable>(of future: EventLoopFuture<T>, within timeout: TimeAmount = .seconds(5), _ what: String)
    async throws -> T
{
    let bounded = future.eventLoop.makePromise(of: T.self)
    future.cascade(to: bounded)
    let timer = future.eventLoop.scheduleTask(in: timeout) { bounded.fail(TimedOut(what: what)) }
    defer { timer.cancel() }
    return try await bounded.futureResult.get()
}

/// Polls `condition` every 10 ms until it holds or `timeout` passed; returns whether it held.
func eventually(within timeout: Duration = .seconds(5), _ condition: @Sendable () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}

// MARK: - Configs and proxy runtimes

enum Mesh {
    static let trustDomain = "weft.local"
    static let frontend = ServiceName(name: "frontend")
    static let backend = ServiceName(name: "backend")
    static let frontendID = SPIFFEID.workload(trustDomain: trustDomain, service: "frontend")

    static func intention(_ source: ServiceName, _ destination: ServiceName, _ action: IntentionAction) -> Intention {
        Intention(source: .service(source), destination: .service(destination), action: action)
    }

    static let denyFrontendToBackend = AuthorizationPolicy(intentions: [intention(frontend, backend, .deny)])
    static let stopAll = AuthorizationPolicy(stopAll: true)

    static let quietLogger = Logger(label: "weft.proxy-tests") { _ in SwiftLogNoOpLogHandler() }

    /// A proxy runtime whose access log collects its lines in memory.
    static func runtime(
        _ config: ProxyConfig, tunnels: HBONEConnectionPool? = nil
    ) -> (runtime: ProxyRuntime, store: ProxyConfigStore, accessLines: @Sendable () -> [String]) {
        let live = LiveConnections()
        let store = ProxyConfigStore(config, live: live)
        let (log, lines) = AccessLog.collecting()
        let runtime = ProxyRuntime(
            config: store, live: live, accessLog: log, metrics: ProxyMetrics(),
            connector: UpstreamConnector(socketMark: nil, connectTimeout: .seconds(2)), tunnels: tunnels)
        return (runtime, store, lines)
    }

    static func entries(_ lines: [String]) -> [AccessLogEntry] {
        lines.compactMap { try? JSONDecoder().decode(AccessLogEntry.self, from: Data($0.utf8)) }
    }
}

// MARK: - Certificates

/// A CA of the trust domain and the credentials it issues.
struct TestCA {
    let authority: CertificateAuthority

    init() throws {
        authority = try CertificateAuthority.generateRoot(trustDomain: Mesh.trustDomain)
    }

    /// A fresh key and a certificate for `identity`.
    func identity(_ identity: SPIFFEID) throws -> TLSIdentity {
        let request = try CertificateRequestFactory.make(for: identity)
        let issued = try authority.issueWorkloadCertificate(csrPEM: request.csrPEM, for: identity, ttl: .seconds(3_600))
        return TLSIdentity(
            identity: identity, certificateChainPEM: issued.certificateChainPEM, privateKeyPEM: request.privateKeyPEM)
    }

    /// Credentials of `node` holding certificates for `workloads`, trusting this CA.
    func credentials(node: String, workloads: [ServiceName] = []) throws -> MeshCredentials {
        var issued: [ServiceName: TLSIdentity] = [:]
        for service in workloads {
            issued[service] = try identity(
                .workload(trustDomain: Mesh.trustDomain, namespace: service.namespace, service: service.name))
        }
        return MeshCredentials(
            trustDomain: Mesh.trustDomain, trustBundlePEM: authority.trustBundlePEM,
            node: try identity(.node(trustDomain: Mesh.trustDomain, name: node)), workloads: issued)
    }
}

// MARK: - Loopback servers

/// A plain TCP workload on 127.0.0.1: echoes what it reads; when its input ends it answers `farewell` and closes.
final class EchoWorkload: Sendable {
    let address: IPSocketAddress
    private let channel: any Channel
    private let state: NIOLockedValueBox<(accepted: Int, received: String, finished: Int)>

    private init(channel: any Channel, state: NIOLockedValueBox<(accepted: Int, received: String, finished: Int)>)
        throws
    {
        self.channel = channel
        self.state = state
        guard let local = channel.localAddress, let address = IPSocketAddress(nio: local) else {
            throw TimedOut(what: "a bound address")
        }
        self.address = address
    }

    static func start(on group: any EventLoopGroup, farewell: String = "bye") async throws -> EchoWorkload {
        let state = NIOLockedValueBox((accepted: 0, received: "", finished: 0))
        let channel = try await ServerBootstrap(group: group)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(Handler(state: state, farewell: farewell))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return try EchoWorkload(channel: channel, state: state)
    }

    /// A loopback address where nothing listens (a port that was just bound and released).
    static func deadAddress(on group: any EventLoopGroup) async throws -> IPSocketAddress {
        let workload = try await start(on: group)
        await workload.close()
        return workload.address
    }

    var accepted: Int { state.withLockedValue { $0.accepted } }
    var received: String { state.withLockedValue { $0.received } }
    /// Connections whose input ended and that were answered with the farewell and closed.
    var finished: Int { state.withLockedValue { $0.finished } }

    func close() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let state: NIOLockedValueBox<(accepted: Int, received: String, finished: Int)>
        let farewell: String

        init(state: NIOLockedValueBox<(accepted: Int, received: String, finished: Int)>, farewell: String) {
            self.state = state
            self.farewell = farewell
        }

        func channelActive(context: ChannelHandlerContext) {
            state.withLockedValue { $0.accepted += 1 }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            state.withLockedValue { $0.received += String(buffer: buffer) }
            context.writeAndFlush(data, promise: nil)
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            guard case ChannelEvent.inputClosed = event else { return context.fireUserInboundEventTriggered(event) }
            let channel = context.channel
            let state = self.state
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: farewell))).whenComplete { _ in
                channel.close().whenComplete { _ in state.withLockedValue { $0.finished += 1 } }
            }
        }
    }
}

/// Collects what arrives on the client end of a tunnel stream (above an `HBONEStreamAdapter`).
final class StreamCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let state = NIOLockedValueBox((received: "", inputClosed: 0, inactive: false))

    var received: String { state.withLockedValue { $0.received } }
    var inputClosed: Int { state.withLockedValue { $0.inputClosed } }
    var inactive: Bool { state.withLockedValue { $0.inactive } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        state.withLockedValue { $0.received += String(buffer: buffer) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { state.withLockedValue { $0.inputClosed += 1 } }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.withLockedValue { $0.inactive = true }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// Writes one DATA frame right behind the CONNECT, before the answer: what an optimistic HBONE client does.
final class EarlyDataWriter: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload
    let text: String

    init(_ text: String) {
        self.text = text
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(Frame.data(text)), promise: nil)
        context.fireChannelActive()
    }
}

/// The client end of one tunnel stream opened by `LoopbackMesh.open`.
struct TunnelStream {
    let channel: any Channel
    let collector: StreamCollector

    func send(_ text: String) async throws {
        try await value(of: channel.writeAndFlush(ByteBuffer(string: text)), "a write on the stream")
    }

    /// Half-close: END_STREAM, the other direction stays open.
    func closeOutput() async throws {
        try await value(of: channel.close(mode: .output), "END_STREAM")
    }

    func close() async {
        try? await value(of: channel.close(), "the stream to close")
    }

    /// Reads from now on, as a relay does once it is installed.
    func startReading() async throws {
        try await value(of: channel.setOption(ChannelOptions.autoRead, value: true), "autoRead on the stream")
        channel.read()
    }
}

/// An HBONE server for node "b" on 127.0.0.1 (port 0) in front of an `EchoWorkload` (the one endpoint of "backend"
/// on "b"; "backend" also has an endpoint on node "c", 127.0.0.2:8080), and a connection pool of node "a" calling as
/// "frontend", all from one CA, on one event loop of the test's own group.
final class LoopbackMesh: Sendable {
    let group: MultiThreadedEventLoopGroup
    let loop: any EventLoop
    let ca: TestCA
    let workload: EchoWorkload
    let serverAddress: IPSocketAddress
    let server: HBONEServer
    let serverStore: ProxyConfigStore
    let serverRuntime: ProxyRuntime
    let accessLines: @Sendable () -> [String]
    let clientTLS: MeshTLSStore
    let pool: HBONEConnectionPool

    static let nodeCEndpoint = IPSocketAddress("127.0.0.2:8080")!

    private init(
        group: MultiThreadedEventLoopGroup, ca: TestCA, workload: EchoWorkload, serverAddress: IPSocketAddress,
        server: HBONEServer,
        runtime: (runtime: ProxyRuntime, store: ProxyConfigStore, accessLines: @Sendable () -> [String]),
        clientTLS: MeshTLSStore, pool: HBONEConnectionPool
    ) {
        self.group = group
        self.loop = group.next()
        self.ca = ca
        self.workload = workload
        self.serverAddress = serverAddress
        self.server = server
        self.serverStore = runtime.store
        self.serverRuntime = runtime.runtime
        self.accessLines = runtime.accessLines
        self.clientTLS = clientTLS
        self.pool = pool
    }

    /// Node "b"'s config: "backend" at `endpoint` on "b" and at `nodeCEndpoint` on "c", "frontend" on "a".
    static func config(
        endpoint: IPSocketAddress, policy: AuthorizationPolicy = AuthorizationPolicy(), hbonePort: UInt16
    ) -> ProxyConfig {
        let backend = MeshService(
            name: "backend", ports: [80], vip: IPAddress("240.0.0.7"),
            endpoints: [
                ServiceEndpoint(address: endpoint.address, port: endpoint.port, node: "b"),
                ServiceEndpoint(address: nodeCEndpoint.address, port: nodeCEndpoint.port, node: "c"),
            ])
        let frontend = MeshService(
            name: "frontend", ports: [80], vip: IPAddress("240.0.0.6"),
            endpoints: [ServiceEndpoint(address: IPAddress("127.0.0.3")!, port: 8080, node: "a")])
        let node = NodeConfig(version: 1, node: "b", services: [backend, frontend])
        return ProxyConfig(state: NodeState(config: node), policy: policy, hbonePort: hbonePort)
    }

    func config(policy: AuthorizationPolicy) -> ProxyConfig {
        Self.config(endpoint: workload.address, policy: policy, hbonePort: serverAddress.port)
    }

    /// Runs `body` against a fresh mesh and tears everything down afterwards, also when `body` throws.
    /// `clientCredentials` makes node "a"'s credentials (default: from the same CA, with "frontend").
    static func run(
        policy: AuthorizationPolicy = AuthorizationPolicy(),
        farewell: String = "bye",
        pool configuration: HBONEConnectionPool.Configuration = .init(),
        clientCredentials: (TestCA) throws -> MeshCredentials = {
            try $0.credentials(node: "a", workloads: [Mesh.frontend])
        },
        server configure: (inout HBONEServer.Configuration) -> Void = { _ in },
        _ body: (LoopbackMesh) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var workload: EchoWorkload?
        var server: HBONEServer?
        do {
            let ca = try TestCA()
            let echo = try await EchoWorkload.start(on: group, farewell: farewell)
            workload = echo
            let serverTLS = MeshTLSStore()
            try serverTLS.update(try ca.credentials(node: "b", workloads: [Mesh.backend]))
            let runtime = Mesh.runtime(config(endpoint: echo.address, policy: policy, hbonePort: 0))
            var serverConfiguration = HBONEServer.Configuration(bindAddresses: [IPSocketAddress("127.0.0.1:0")!])
            configure(&serverConfiguration)
            let hbone = HBONEServer(
                configuration: serverConfiguration, group: group, tls: serverTLS, runtime: runtime.runtime,
                logger: Mesh.quietLogger)
            server = hbone
            let bound = try await hbone.start()
            guard let first = bound.first, let serverAddress = IPSocketAddress(nio: first) else {
                throw TimedOut(what: "the HBONE listener's address")
            }
            runtime.store.update(config(endpoint: echo.address, policy: policy, hbonePort: serverAddress.port))
            let clientTLS = MeshTLSStore()
            try clientTLS.update(try clientCredentials(ca))
            let pool = HBONEConnectionPool(configuration: configuration, tls: clientTLS, logger: Mesh.quietLogger)
            let mesh = LoopbackMesh(
                group: group, ca: ca, workload: echo, serverAddress: serverAddress, server: hbone, runtime: runtime,
                clientTLS: clientTLS, pool: pool)
            try await body(mesh)
        } catch {
            await server?.shutdown()
            await workload?.close()
            try await group.shutdownGracefully()
            throw error
        }
        await server?.shutdown()
        await workload?.close()
        try await group.shutdownGracefully()
    }

    func peer(node: String = "b", source: ServiceName = Mesh.frontend) -> HBONEPeer {
        HBONEPeer(node: node, address: serverAddress, source: source)
    }

    /// Opens a stream through the pool (CONNECT `authority`, default: the workload) and, when `reading`, starts
    /// reading from it as a relay would. Throws what `openStream` fails with.
    func open(
        _ authority: IPSocketAddress? = nil, requestID: String? = nil, peer: HBONEPeer? = nil, earlyData: String? = nil,
        reading: Bool = true, through other: HBONEConnectionPool? = nil
    ) async throws -> TunnelStream {
        let collector = StreamCollector()
        let pool = other ?? self.pool
        let loop = self.loop
        let request = HBONERequest(authority: authority ?? workload.address, requestID: requestID)
        let peer = peer ?? self.peer()
        let stream = try await value(
            of: loop.flatSubmit {
                pool.openStream(to: peer, request: request, on: loop) { stream in
                    let sync = stream.pipeline.syncOperations
                    if let earlyData { try sync.addHandler(EarlyDataWriter(earlyData)) }
                    try sync.addHandlers([HBONEStreamAdapter(), collector])
                }
            }, within: .seconds(10), "the tunnel stream to open")
        let opened = TunnelStream(channel: stream, collector: collector)
        if reading { try await opened.startReading() }
        return opened
    }

    /// The server's access-log lines, decoded.
    var serverEntries: [AccessLogEntry] { Mesh.entries(accessLines()) }

    /// Waits for the server's first access-log line matching `match`.
    func serverEntry(where match: @escaping @Sendable (AccessLogEntry) -> Bool) async -> AccessLogEntry? {
        _ = await eventually { serverEntries.contains(where: match) }
        return serverEntries.first(where: match)
    }
}
