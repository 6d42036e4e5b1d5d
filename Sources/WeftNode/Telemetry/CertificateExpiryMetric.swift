import Prometheus
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `weft_certificate_expiry_seconds{identity}`: seconds until each certificate the node holds expires (negative
/// once it has), set on every certificate refresh tick; a certificate no longer held leaves the exposition.
final class CertificateExpiryMetric: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let gauges = Mutex<[String: Gauge]>([:])
    static var descriptor: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "weft", subsystem: "certificate", metricName: "expiry", unitName: "seconds",
            helpText: "Seconds until the certificate the node holds for an identity expires")
    }

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func update(_ validities: [CertificateValidity], now: Date) {
        let gone = gauges.withLock { gauges in
            var next: [String: Gauge] = [:]
            for validity in validities {
                let identity = validity.identity.description
                let gauge =
                    gauges[identity]
                    ?? registry.makeGauge(descriptor: Self.descriptor, labels: [("identity", identity)])
                gauge.set(validity.secondsLeft(at: now))
                next[identity] = gauge
            }
            defer { gauges = next }
            return gauges.filter { next[$0.key] == nil }.map(\.value)
        }
        for gauge in gone { registry.unregisterGauge(gauge) }
    }
}
