import Prometheus
import WeftCore

/// The proxy's L4 metrics in a Prometheus registry (served at :15020/metrics), labelled with the reporting side and
/// the source and destination services: connections opened, closed and denied, bytes each way, durations.
public final class ProxyMetrics: Sendable {
    /// Which end of a connection reports it: the caller's node (`source`) or the callee's (`destination`).
    public enum Reporter: String, Sendable {
        case source, destination
    }

    public struct Labels: Sendable, Hashable {
        public var reporter: Reporter
        public var source: ServiceName?
        public var destination: ServiceName?

        public init(reporter: Reporter, source: ServiceName?, destination: ServiceName?) {
            self.reporter = reporter
            self.source = source
            self.destination = destination
        }

        var pairs: [(String, String)] {
            [
                ("reporter", reporter.rawValue),
                ("source_service", source?.description ?? "unknown"),
                ("destination_service", destination?.description ?? "unknown"),
            ]
        }
    }

    public let registry: PrometheusCollectorRegistry
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100),
        .milliseconds(500), .seconds(1), .seconds(5), .seconds(10), .seconds(60), .seconds(300), .seconds(3600),
    ]

    /// Distinct label sets at most (see ``MetricLabelBudget``); the overflow set is `other`.
    public static let defaultLabelSetLimit = 4_096
    let labelBudget: MetricLabelBudget
    private let labelOverflow: Counter

    public init(
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        labelSetLimit: Int = ProxyMetrics.defaultLabelSetLimit
    ) {
        self.registry = registry
        labelBudget = MetricLabelBudget(limit: labelSetLimit)
        labelOverflow = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "weft", subsystem: "metrics", metricName: "label_sets_overflowed", unitName: "total",
                helpText:
                    "Metric updates folded into source and destination 'other' because the label set limit was reached")
        )
    }

    /// One access-log line dropped because standard output did not keep up.
    public func accessLogLineDropped() {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "weft", subsystem: "access_log", metricName: "dropped_lines", unitName: "total",
                helpText: "Access-log lines dropped because standard output did not keep up")
        ).increment()
    }

    private func admitted(_ labels: Labels) -> [(String, String)] {
        let admitted = labelBudget.admit(labels)
        if admitted != labels { labelOverflow.increment() }
        return admitted.pairs
    }

    private static func name(_ name: String, unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "weft", subsystem: "tcp", metricName: name, unitName: unit, helpText: help)
    }

    static var openedName: MetricNameDescriptor {
        name("connections_opened", unit: "total", "TCP connections the proxy started relaying")
    }
    static var deniedName: MetricNameDescriptor {
        name("connections_denied", unit: "total", "TCP connections refused by authorization or policy")
    }
    static var closedName: MetricNameDescriptor {
        name("connections_closed", unit: "total", "TCP connections the proxy finished relaying")
    }
    static var sentName: MetricNameDescriptor {
        name("sent_bytes", unit: "total", "Bytes from the caller to the callee, counted as they are relayed")
    }
    static var receivedName: MetricNameDescriptor {
        name("received_bytes", unit: "total", "Bytes from the callee to the caller, counted as they are relayed")
    }
    static var durationName: MetricNameDescriptor {
        name("connection_duration", unit: "seconds", "How long relayed TCP connections lasted")
    }

    static var requestsName: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "weft", subsystem: "http", metricName: "requests", unitName: "total",
            helpText: "HTTP/1 requests seen on relayed connections, counted as each request head passes")
    }

    /// The counters one relayed connection moves while it lives, looked up once (a lookup validates and joins the
    /// labels under the registry's lock: too slow for every request or read).
    public struct ConnectionMeter: Sendable {
        let opened: Counter
        let requests: Counter
        let sent: Counter
        let received: Counter

        /// The connection's relay started.
        public func started() { opened.increment() }

        /// One HTTP/1 request head passed.
        public func requested() { requests.increment() }

        /// `count` bytes relayed, from the caller (`fromCaller`) or from the callee.
        public func relayed(_ count: UInt64, fromCaller: Bool) {
            (fromCaller ? sent : received).increment(by: Int64(clamping: count))
        }
    }

    /// The meter of one connection with `labels`.
    public func meter(_ labels: Labels) -> ConnectionMeter {
        let pairs = admitted(labels)
        return ConnectionMeter(
            opened: registry.makeCounter(descriptor: Self.openedName, labels: pairs),
            requests: registry.makeCounter(descriptor: Self.requestsName, labels: pairs),
            sent: registry.makeCounter(descriptor: Self.sentName, labels: pairs),
            received: registry.makeCounter(descriptor: Self.receivedName, labels: pairs))
    }

    public func denied(_ labels: Labels) {
        registry.makeCounter(descriptor: Self.deniedName, labels: admitted(labels)).increment()
    }

    public func closed(_ labels: Labels, duration: Duration) {
        let pairs = admitted(labels)
        registry.makeCounter(descriptor: Self.closedName, labels: pairs).increment()
        registry.makeDurationHistogram(descriptor: Self.durationName, labels: pairs, buckets: Self.durationBuckets)
            .record(duration)
    }

    /// The Prometheus text exposition format.
    public func exposition() -> String {
        registry.emitToString()
    }
}
