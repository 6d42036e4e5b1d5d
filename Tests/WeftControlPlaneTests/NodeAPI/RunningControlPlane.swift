import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import WeftControlPlane
import WeftCore

/// A weftd running in this test process (the same `ControlPlane.run` the binary calls), listening on loopback
/// ports chosen by the kernel, with its admin API in plaintext on loopback. `stop()` cancels it.
final class RunningControlPlane: Sendable {
    let ready: ControlPlane.Ready
    let task: Task<Void, any Error>
    let configuration: ControlPlaneConfiguration
    let adminToken: String

    static func start(
        dataDirectory: String, postgresURL: String? = nil, adminToken: String? = nil,
        configure: (inout ControlPlaneConfiguration) -> Void = { _ in }
    ) async throws -> RunningControlPlane {
        var configuration = ControlPlaneConfiguration()
        configuration.dataDirectory = dataDirectory
        configuration.postgresURL = postgresURL
        let loopback = IPAddress.v4(0x7F00_0001)
        configuration.nodeListen = IPSocketAddress(address: loopback, port: 0)
        configuration.joinListen = IPSocketAddress(address: loopback, port: 0)
        configuration.adminListen = IPSocketAddress(address: loopback, port: 0)
        configuration.adminPlaintext = true
        configuration.heartbeatInterval = .milliseconds(200)
        configure(&configuration)
        let (readyStream, readyContinuation) = AsyncStream.makeStream(of: ControlPlane.Ready.self)
        var logger = Logger(label: "weftd-test")
        logger.logLevel = .warning
        let settings = configuration
        let task = Task {
            defer { readyContinuation.finish() }
            try await ControlPlane.run(configuration: settings, logger: logger) { readyContinuation.yield($0) }
        }
        var iterator = readyStream.makeAsyncIterator()
        guard let ready = await iterator.next() else {
            _ = try await task.value
            throw FixtureError("weftd stopped before it was ready")
        }
        // A replica that found a token in a shared database writes no file: the caller passes the first one's.
        let token =
            try adminToken
            ?? String(contentsOfFile: "\(dataDirectory)/admin-token", encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines)
        return RunningControlPlane(ready: ready, task: task, configuration: configuration, adminToken: token)
    }

    private init(
        ready: ControlPlane.Ready, task: Task<Void, any Error>, configuration: ControlPlaneConfiguration,
        adminToken: String
    ) {
        self.ready = ready
        self.task = task
        self.configuration = configuration
        self.adminToken = adminToken
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    struct FixtureError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    struct Response {
        var status: HTTPResponseStatus
        var body: Data
        func json() throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: body) as? [String: Any] ?? [:]
        }
    }

    /// One admin API call with the bootstrap token.
    @discardableResult
    func admin(_ method: HTTPMethod, _ path: String, json: String? = nil, token: String? = nil) async throws -> Response
    {
        var request = HTTPClientRequest(url: "http://\(ready.adminListener)\(path)")
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token ?? adminToken)")
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 4 << 20)
        return Response(status: response.status, body: Data(buffer: body))
    }

    /// A join token for `node` made through the admin API.
    func joinToken(for node: String, ttlSeconds: Int = 3600) async throws -> String {
        let response = try await admin(
            .POST, "/v1/node-tokens", json: #"{"node": "\#(node)", "ttl_seconds": \#(ttlSeconds)}"#)
        guard response.status == .created || response.status == .ok, let token = try response.json()["token"] as? String
        else {
            throw FixtureError(
                "creating a join token failed: \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
        return token
    }
}
