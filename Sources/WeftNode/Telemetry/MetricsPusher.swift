import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import WeftCore
import WeftProxy

/// Pushes the node's metrics where the control plane's telemetry settings say, switched and re-aimed at run time:
/// a settings change takes effect within a second, with nothing restarted. Prometheus remote write is spoken;
/// the other push formats are reported as not supported by this node.
final class MetricsPusher: Sendable {
    private let metrics: ProxyMetrics
    private let settings: NIOLockedValueBox<TelemetrySettings?>
    private let node: String
    private let logger: Logger

    init(metrics: ProxyMetrics, settings: NIOLockedValueBox<TelemetrySettings?>, node: String, logger: Logger) {
        self.metrics = metrics
        self.settings = settings
        self.node = node
        self.logger = logger
    }

    /// Runs until cancelled.
    func run() async {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        var lastOutcome: String?
        func report(_ outcome: String, warning: Bool) {
            guard outcome != lastOutcome else { return }
            lastOutcome = outcome
            if warning { logger.warning("metrics push: \(outcome)") } else { logger.info("metrics push: \(outcome)") }
        }
        while !Task.isCancelled {
            let current = settings.withLockedValue { $0 }
            guard let telemetry = current, telemetry.metricsPush != .none, let endpoint = telemetry.metricsEndpoint else {
                if lastOutcome != nil { report("off", warning: false) }
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if telemetry.metricsPush == .prometheusRemoteWrite {
                do {
                    try await push(to: endpoint, client: client)
                    report("pushing to \(endpoint) every \(telemetry.pushInterval) s (Prometheus remote write)", warning: false)
                } catch {
                    report("\(endpoint): \(error)", warning: true)
                }
            } else {
                report("\(telemetry.metricsPush.rawValue) is not supported by this node yet; use prometheus-remote-write", warning: true)
            }
            // Wait out the interval, but follow a settings change within a second.
            for _ in 0..<max(1, telemetry.pushInterval) {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled || settings.withLockedValue({ $0 }) != current { break }
            }
        }
        try? await client.shutdown()
    }

    struct PushError: Error, CustomStringConvertible {
        var description: String
    }

    private func push(to endpoint: String, client: HTTPClient) async throws {
        let samples = RemoteWrite.samples(
            fromExposition: metrics.exposition(), extra: [("instance", node), ("job", "weft-node")])
        guard !samples.isEmpty else { return }
        var request = HTTPClientRequest(url: endpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-protobuf")
        request.headers.add(name: "Content-Encoding", value: "snappy")
        request.headers.add(name: "X-Prometheus-Remote-Write-Version", value: "0.1.0")
        request.headers.add(name: "User-Agent", value: "weft-node/\(WeftVersion.current)")
        let body = RemoteWrite.body(samples, timestampMilliseconds: Int64(Date().timeIntervalSince1970 * 1000))
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(5))
        let text = try await response.body.collect(upTo: 64 << 10)
        guard (200..<300).contains(response.status.code) else {
            throw PushError(description: "HTTP \(response.status.code): \(String(buffer: text).prefix(300))")
        }
    }
}
