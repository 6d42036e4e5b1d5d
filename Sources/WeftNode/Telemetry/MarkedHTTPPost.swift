import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import WeftCore
import WeftProxy

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One HTTP/1.1 POST (http or https) from a socket that carries the capture's mark, so the node's own telemetry is
/// never captured by its own rules, whatever port the endpoint uses.
enum MarkedHTTPPost {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Made once (it reads the system's trust roots), shared by every push.
    private static let clientTLS = Result { try NIOSSLContext(configuration: .makeClientConfiguration()) }

    /// POSTs `body` to `text`. The host is resolved first and the connection goes to that address only after
    /// `refusal` found nothing against it (no second lookup a DNS answer could change in between).
    static func post(
        url text: String, headers: [(String, String)], body: [UInt8], mark: UInt32?, timeout: Duration,
        refusal: @escaping @Sendable (IPSocketAddress) -> String? = { _ in nil }
    ) async throws -> (status: HTTPResponseStatus, body: String) {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = url.host, !host.isEmpty
        else { throw Failure(description: "'\(text)' is not an http:// or https:// URL") }
        let secure = scheme == "https"
        let port = url.port ?? (secure ? 443 : 80)
        let path = url.path.isEmpty ? "/" : url.path
        let target = url.query.map { path + "?" + $0 } ?? path
        let hostHeader = url.port.map { "\(host):\($0)" } ?? host
        let tls = secure ? try clientTLS.get() : nil
        let bareHost = host.trimming { $0 == "[" || $0 == "]" }
        let hostIsAddress = IPAddress(bareHost) != nil
        let resolved = try await resolve(bareHost, port: port)
        guard let destination = IPSocketAddress(nio: resolved) else {
            throw Failure(description: "\(host) did not resolve to an IP address")
        }
        if let reason = refusal(destination) { throw Failure(description: "refused: \(reason)") }

        return try await withThrowingTaskGroup(of: (status: HTTPResponseStatus, body: String).self) { group in
            group.addTask {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(.seconds(Int64(timeout.components.seconds)))
                    .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                    .marking(mark)
                    .connect(to: resolved) {
                        channel in
                        channel.eventLoop.makeCompletedFuture {
                            if let tls {
                                try channel.pipeline.syncOperations.addHandler(
                                    NIOSSLClientHandler(context: tls, serverHostname: hostIsAddress ? nil : host))
                            }
                            try channel.pipeline.syncOperations.addHTTPClientHandlers()
                            return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                                wrappingChannelSynchronously: channel)
                        }
                    }
                return try await channel.executeThenClose { inbound, outbound in
                    var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target)
                    head.headers.add(name: "Host", value: hostHeader)
                    head.headers.add(name: "Content-Length", value: String(body.count))
                    head.headers.add(name: "Connection", value: "close")
                    for (name, value) in headers { head.headers.add(name: name, value: value) }
                    try await outbound.write(.head(head))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                    try await outbound.write(.end(nil))
                    var status = HTTPResponseStatus.internalServerError
                    var answer = ByteBuffer()
                    for try await part in inbound {
                        switch part {
                        case .head(let response): status = response.status
                        case .body(var chunk): if answer.readableBytes < 4096 { answer.writeBuffer(&chunk) }
                        case .end: return (status, String(buffer: answer))
                        }
                    }
                    throw Failure(description: "the connection closed before the response ended")
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw Failure(description: "no response within \(timeout)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// `host` (a name or an address) as one socket address; the lookup runs on NIO's thread pool, not on an event
    /// loop or the cooperative pool.
    private static func resolve(_ host: String, port: Int) async throws -> SocketAddress {
        if let address = IPAddress(host) {
            return try SocketAddress(ipAddress: address.description, port: port)
        }
        return try await NIOThreadPool.singleton.runIfActive {
            try SocketAddress.makeAddressResolvingHost(host, port: port)
        }
    }
}
