import Logging
import NIOConcurrencyHelpers
import NIOCore
import WeftCore
import WeftProxy

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Pushes the node's metrics where the control plane's telemetry settings say, switched and re-aimed at run time:
/// a settings change takes effect within a second, with nothing restarted. Prometheus remote write is spoken;
/// the other push formats are reported as not supported by this node.
final class MetricsPusher: Sendable {
    private let metrics: ProxyMetrics
    private let settings: NIOLockedValueBox<TelemetrySettings?>
    private let node: String
    private let socketMark: UInt32?
    private let destinations: PushDestinationPolicy
    private let state: @Sendable () -> NodeState
    private let credentials: MetricsPushCredentials?
    private let logger: Logger

    /// `socketMark`: the capture's mark, put on the push connections so the node's rules let them pass (and
    /// why `destinations` holds them to the node's egress policy, against the node's current `state`).
    init(
        metrics: ProxyMetrics, settings: NIOLockedValueBox<TelemetrySettings?>, node: String, socketMark: UInt32?,
        destinations: PushDestinationPolicy, state: @escaping @Sendable () -> NodeState,
        credentials: MetricsPushCredentials?, logger: Logger
    ) {
        self.metrics = metrics
        self.settings = settings
        self.node = node
        self.socketMark = socketMark
        self.destinations = destinations
        self.state = state
        self.credentials = credentials
        self.logger = logger
    }

    /// Runs until cancelled.
    func run() async {
        var lastOutcome: MetricsPushOutcome?
        func report(_ outcome: MetricsPushOutcome) {
            guard outcome != lastOutcome else { return }
            lastOutcome = outcome
            if outcome.isProblem {
                logger.warning("metrics push: \(outcome)")
            } else {
                logger.info("metrics push: \(outcome)")
            }
        }
        while !Task.isCancelled {
            let current = settings.withLockedValue { $0 }
            guard let telemetry = current, telemetry.metricsPush != .none, let endpoint = telemetry.metricsEndpoint
            else {
                if lastOutcome != nil { report(.off) }
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if telemetry.metricsPush == .prometheusRemoteWrite {
                do {
                    try await push(to: endpoint)
                    report(.pushing(endpoint: endpoint, interval: telemetry.pushInterval))
                } catch {
                    report(.failing(endpoint: endpoint, reason: "\(error)"))
                }
            } else {
                report(.unsupported(telemetry.metricsPush))
            }
            // Wait out the interval, but follow a settings change within a second.
            for _ in 0..<max(1, telemetry.pushInterval) {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled || settings.withLockedValue({ $0 }) != current { break }
            }
        }
    }

    struct PushError: Error, CustomStringConvertible {
        var description: String
    }

    private func push(to endpoint: String) async throws {
        let samples = RemoteWrite.samples(
            fromExposition: metrics.exposition(), extra: [("instance", node), ("job", "weft-node")])
        guard !samples.isEmpty else { return }
        let body = RemoteWrite.body(samples, timestampMilliseconds: Int64(Date().timeIntervalSince1970 * 1000))
        var headers = [
            ("Content-Type", "application/x-protobuf"), ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "0.1.0"), ("User-Agent", "weft-node/\(WeftVersion.current)"),
        ]
        if let credentials { headers.append(("Authorization", try credentials.authorization())) }
        let (destinations, state) = (destinations, state)
        let (status, text) = try await MarkedHTTPPost.post(
            url: endpoint, headers: headers, body: body, mark: socketMark, timeout: .seconds(5),
            refusal: { destinations.refusal(for: $0, state: state()) })
        guard status.code / 100 == 2 else {
            throw PushError(description: "HTTP \(status.code): \(text.prefix(300))")
        }
    }
}
