import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import WeftCore
import WeftProxy

/// The node's admin endpoint (:15020, loopback by default): /metrics, /healthz, /readyz, /config_dump, /certs.
/// GET only; `access` decides who may read each path, `respond` computes the answer.
final class NodeAdminServer: Sendable {
    struct Response: Sendable {
        var status: HTTPResponseStatus
        var contentType: String
        var body: String

        static func text(_ body: String, status: HTTPResponseStatus = .ok) -> Response {
            Response(status: status, contentType: "text/plain; charset=utf-8", body: body)
        }

        static func json(_ body: String) -> Response {
            Response(status: .ok, contentType: "application/json", body: body)
        }
    }

    private let addresses: [IPSocketAddress]
    private let group: any EventLoopGroup
    private let access: NodeAdminAccess
    private let respond: @Sendable (_ path: String) async -> Response
    private let channels = NIOLockedValueBox<[any Channel]>([])
    private let sockets: ListenSocketTable

    init(
        addresses: [IPSocketAddress], group: any EventLoopGroup, access: NodeAdminAccess = NodeAdminAccess(),
        sockets: ListenSocketTable = ListenSocketTable(), respond: @escaping @Sendable (String) async -> Response
    ) {
        self.sockets = sockets
        self.addresses = addresses
        self.group = group
        self.access = access
        self.respond = respond
    }

    /// The addresses it listens on, once started (with the ports the kernel chose for port 0).
    var boundAddresses: [IPSocketAddress] {
        channels.withLockedValue { $0.compactMap { $0.localAddress.flatMap(IPSocketAddress.init(nio:)) } }
    }

    func start() async throws {
        for address in addresses {
            let (access, respond) = (self.access, self.respond)
            let fd = try sockets.socket(for: ListenSocketKey(.tcp, address), backlog: 128)
            let channel = try await ServerBootstrap(group: group)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(
                            AdminRequestHandler(access: access, respond: respond))
                    }
                }
                .withBoundSocket(fd).get()
            channels.withLockedValue { $0.append(channel) }
        }
    }

    func shutdown() async {
        let all = channels.withLockedValue { channels in
            defer { channels.removeAll() }
            return channels
        }
        for channel in all { try? await channel.close() }
    }
}

private final class AdminRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let access: NodeAdminAccess
    private let respond: @Sendable (String) async -> NodeAdminServer.Response
    private var head: HTTPRequestHead?

    init(access: NodeAdminAccess, respond: @escaping @Sendable (String) async -> NodeAdminServer.Response) {
        self.access = access
        self.respond = respond
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            let keepAlive = head.isKeepAlive
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            let promise = context.eventLoop.makePromise(of: NodeAdminServer.Response.self)
            let client = context.channel.remoteAddress.flatMap(IPSocketAddress.init(nio:))
            let server = context.channel.localAddress.flatMap(IPSocketAddress.init(nio:))
            if head.method != .GET {
                promise.succeed(.text("only GET is served here\n", status: .methodNotAllowed))
            } else if let client, let server {
                let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "/")
                let (access, respond) = (self.access, self.respond)
                promise.completeWithTask {
                    if let refusal = await access.refusal(path: path, client: client, server: server) {
                        return .text("\(refusal.reason)\n", status: .forbidden)
                    }
                    return await respond(path)
                }
            } else {
                promise.succeed(.text("the connection has no IP addresses\n", status: .forbidden))
            }
            promise.futureResult.whenSuccess { response in
                let (handler, context) = bound.value
                handler.write(response, keepAlive: keepAlive, context: context)
            }
        }
    }

    private func write(_ response: NodeAdminServer.Response, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders([
            ("Content-Type", response.contentType), ("Content-Length", String(response.body.utf8.count)),
        ])
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))),
            promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: response.body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
