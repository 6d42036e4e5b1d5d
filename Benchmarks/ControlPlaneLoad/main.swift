// Load on one weftd from many simulated nodes in this one process: every node joins with its own token and
// certificate, holds its own mTLS connection and Watch stream, and ACKs each update as soon as it arrives. Then
// admin writes (an intention every node must get) are timed from the write to each node's receipt+ACK.
// Run by Scripts/bench/control-plane, which starts weftd and reads its CPU and RSS.
import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import NIOHTTP1
import Synchronization
import WeftAPI
import WeftCore
import WeftNode

struct Options {
    var admin = "http://127.0.0.1:15443"
    var token = ""
    var join = IPSocketAddress("127.0.0.1:15013")!
    var node = IPSocketAddress("127.0.0.1:15012")!
    var nodes = 1000
    var writes = 5
    var concurrency = 32
    var prefix = "sim"

    init(arguments: [String]) {
        var index = 1
        func value() -> String {
            index += 1
            guard index < arguments.count else { fatalError("\(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--admin": admin = value()
            case "--token": token = value()
            case "--join": join = IPSocketAddress(value())!
            case "--node": node = IPSocketAddress(value())!
            case "--nodes": nodes = Int(value())!
            case "--writes": writes = Int(value())!
            case "--concurrency": concurrency = Int(value())!
            case "--prefix": prefix = value()
            default: fatalError("unknown option \(arguments[index])")
            }
            index += 1
        }
    }
}

let options = Options(arguments: CommandLine.arguments)

/// A line on stdout, unbuffered: the script tees it while the run goes on.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func admin(_ method: HTTPMethod, _ path: String, _ json: String) async throws -> [String: Any] {
    var request = HTTPClientRequest(url: options.admin + path)
    request.method = method
    request.headers.add(name: "Authorization", value: "Bearer \(options.token)")
    request.headers.add(name: "Content-Type", value: "application/json")
    request.body = .bytes(ByteBuffer(string: json))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let body = try await response.body.collect(upTo: 1 << 20)
    guard response.status.code < 300 else {
        throw BenchError("\(method) \(path): \(response.status) \(String(buffer: body))")
    }
    return (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? [:]
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` for 0..<count with at most `width` at once.
func forEach(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for index in 0..<count {
            if index >= width { try await group.next() }
            group.addTask { try await body(index) }
        }
        try await group.waitForAll()
    }
}

/// When each node received each marked update.
final class Receipts: Sendable {
    private let state = Mutex<[String: [ContinuousClock.Instant]]>([:])
    private let initial = Mutex<Int>(0)

    func record(_ names: [String], at instant: ContinuousClock.Instant) {
        state.withLock { state in
            for name in names where name.hasPrefix("intention/*>bench-") { state[name, default: []].append(instant) }
        }
    }

    func count(_ name: String) -> Int { state.withLock { $0[name]?.count ?? 0 } }
    func instants(_ name: String) -> [ContinuousClock.Instant] { state.withLock { $0[name] ?? [] } }
    func firstConfig() { initial.withLock { $0 += 1 } }
    private let retries = Mutex<Int>(0)
    func retried() { retries.withLock { $0 += 1 } }
    var retryCount: Int { retries.withLock { $0 } }
    var nodesWithConfig: Int { initial.withLock { $0 } }
}

let receipts = Receipts()
let clock = ContinuousClock()

// 1. Join every node through the real join path (its own token, key and CSR).
say("joining \(options.nodes) nodes (\(options.concurrency) at a time)…")
let joinStart = clock.now
let credentials = Mutex<[Int: NodeCredentials]>([:])
try await forEach(options.nodes, width: options.concurrency) { index in
    let name = "\(options.prefix)-\(index)"
    let created = try await admin(.POST, "/v1/node-tokens", #"{"node": "\#(name)", "ttl_seconds": 3600}"#)
    guard let token = created["token"] as? String else { throw BenchError("no token in \(created)") }
    let joined = try await ControlPlaneJoin.join(address: options.join, token: token, nodeName: name)
    let done = credentials.withLock { credentials in
        credentials[index] = joined
        return credentials.count
    }
    if done % 2000 == 0 { say(String(format: "  %d joined after %.1f s", done, (clock.now - joinStart).seconds)) }
}
say(String(format: "joined in %.1f s", (clock.now - joinStart).seconds))

/// One node agent: registers (one node in ten has an endpoint of one of 50 services), watches and ACKs every update.
/// A failed call (a reset during the connection storm) is retried after a random pause, as a node agent would; the
/// first config is counted once per node.
func simulateNode(_ index: Int, client: GRPCClient<HTTP2ClientTransport.Posix>) async {
    let service = Weft_Node_V1_NodeService.Client(wrapping: client)
    let counted = Mutex(false)
    var registered = index % 10 != 0
    while !Task.isCancelled {
        do {
            if !registered {
                var endpoint = Weft_Node_V1_Endpoint()
                endpoint.address = "198.18.\(index / 250 % 256).\(index % 250 + 1)"
                endpoint.port = 8080
                endpoint.healthy = true
                var registration = Weft_Node_V1_RegisteredService()
                registration.name = "svc-\(index / 10 % 50)"
                registration.endpoints = [endpoint]
                var request = Weft_Node_V1_RegisterRequest()
                request.services = [registration]
                request.addresses = [endpoint.address]
                request.version = "bench"
                _ = try await service.register(request)
                registered = true
            }
            let (acks, ackContinuation) = AsyncStream.makeStream(of: Weft_Node_V1_WatchRequest.self)
            ackContinuation.yield(.with { $0.kind = .subscribe(Weft_Node_V1_Subscribe()) })
            try await service.watch(
                requestProducer: { writer in for await message in acks { try await writer.write(message) } },
                onResponse: { response in
                    for try await update in response.messages {
                        receipts.record(update.resources.map(\.name), at: clock.now)
                        ackContinuation.yield(.with { $0.kind = .ack(.with { $0.version = update.version }) })
                        if counted.withLock({ counted in
                            defer { counted = true }
                            return !counted
                        }) {
                            receipts.firstConfig()
                        }
                    }
                }
            )
        } catch {
            if Task.isCancelled { return }
            receipts.retried()
            try? await Task.sleep(for: .milliseconds(Int.random(in: 100...1000)))
        }
    }
}

// 2. Every node watches over its own mTLS connection; one in ten registers an endpoint of one of 50 services.
let clients = Mutex<[GRPCClient<HTTP2ClientTransport.Posix>]>([])
let watchStart = clock.now
let watchFailure = Mutex<String?>(nil)
let watchers = Task.detached {
    do {
        try await withThrowingDiscardingTaskGroup { group in
            for index in 0..<options.nodes {
                let node = credentials.withLock { $0[index]! }
                let transport = try HTTP2ClientTransport.Posix(
                    target: .ipv4(address: options.node.address.description, port: Int(options.node.port)),
                    transportSecurity: .mTLS(
                        certificateChain: [.bytes(Array(node.certificateChainPEM.utf8), format: .pem)],
                        privateKey: .bytes(Array(node.privateKeyPEM.utf8), format: .pem)
                    ) { $0.trustRoots = .certificates([.bytes(Array(node.trustBundlePEM.utf8), format: .pem)]) }
                )
                let client = GRPCClient(transport: transport)
                clients.withLock { $0.append(client) }
                group.addTask { try await client.runConnections() }
                group.addTask { await simulateNode(index, client: client) }
            }
        }
    } catch {
        watchFailure.withLock { $0 = "\(error)" }
    }
}
var lastReport = clock.now
while receipts.nodesWithConfig < options.nodes {
    if clock.now - watchStart > .seconds(600) {
        throw BenchError("only \(receipts.nodesWithConfig) nodes got a config in 600 s")
    }
    if let failure = watchFailure.withLock({ $0 }) { throw BenchError("a node's stream failed: \(failure)") }
    if clock.now - lastReport > .seconds(10) {
        say(
            String(
                format: "  %d nodes have their config after %.0f s", receipts.nodesWithConfig,
                (clock.now - watchStart).seconds))
        lastReport = clock.now
    }
    try await Task.sleep(for: .milliseconds(100))
}
say(
    String(
        format: "all %d nodes watching with their first config after %.1f s (%d calls retried after a reset)",
        options.nodes, (clock.now - watchStart).seconds, receipts.retryCount
    ))
try await Task.sleep(for: .seconds(2))

// 3. Timed writes: an intention from `*` reaches every node.
var lastLatencies: [Double] = []
for write in 1...options.writes {
    let name = "intention/*>bench-\(write)"
    let start = clock.now
    _ = try await admin(.PUT, "/v1/intentions", #"{"source": "*", "destination": "bench-\#(write)", "action": "deny"}"#)
    let written = clock.now
    while receipts.count(name) < options.nodes {
        if clock.now - start > .seconds(60) {
            throw BenchError("write \(write): only \(receipts.count(name)) nodes in 60 s")
        }
        try await Task.sleep(for: .milliseconds(2))
    }
    let latencies = receipts.instants(name).map { ($0 - start).seconds * 1000 }.sorted()
    lastLatencies = latencies
    func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
    say(
        String(
            format: "write %d: admin call %.1f ms; node receipt+ACK p50 %.1f ms, p99 %.1f ms, last node %.1f ms",
            write, (written - start).seconds * 1000, percentile(0.5), percentile(0.99), latencies.last!
        ))
    try await Task.sleep(for: .milliseconds(500))
}
say("RESULT nodes=\(options.nodes) last_write_last_node_ms=\(String(format: "%.1f", lastLatencies.last ?? -1))")
for client in clients.withLock({ $0 }) { client.beginGracefulShutdown() }
watchers.cancel()
await watchers.value

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
