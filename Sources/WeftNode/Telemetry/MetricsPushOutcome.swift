import WeftCore

/// What the metrics push is doing; logged each time it changes.
enum MetricsPushOutcome: Equatable, CustomStringConvertible {
    case off
    case pushing(endpoint: String, interval: Int)
    case failing(endpoint: String, reason: String)
    case unsupported(TelemetrySettings.MetricsPush)

    var isProblem: Bool {
        switch self {
        case .off, .pushing: false
        case .failing, .unsupported: true
        }
    }

    var description: String {
        switch self {
        case .off: "off"
        case .pushing(let endpoint, let interval):
            "pushing to \(endpoint) every \(interval) s (Prometheus remote write)"
        case .failing(let endpoint, let reason): "\(endpoint): \(reason)"
        case .unsupported(let format):
            "\(format.rawValue) is not supported by this node yet; use prometheus-remote-write"
        }
    }
}
