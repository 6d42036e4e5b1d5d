import NIOConcurrencyHelpers
import WeftCore

/// Bounds the label sets the proxy's metrics create, so that many identities or services never grow the
/// registry (and every scrape) without end: the first `limit` distinct label sets are kept; later new ones are
/// counted under source and destination `other`, and how often that happened is counted too.
final class MetricLabelBudget: Sendable {
    static let overflowService = ServiceName(name: "other")

    let limit: Int
    private let state = NIOLockedValueBox<(seen: Set<ProxyMetrics.Labels>, overflowed: Int)>(([], 0))

    init(limit: Int) {
        self.limit = limit
    }

    /// `labels`, or the overflow set when they are new and the budget is spent.
    func admit(_ labels: ProxyMetrics.Labels) -> ProxyMetrics.Labels {
        state.withLockedValue { state in
            if state.seen.contains(labels) { return labels }
            guard state.seen.count < limit else {
                state.overflowed += 1
                return ProxyMetrics.Labels(
                    reporter: labels.reporter, source: Self.overflowService, destination: Self.overflowService)
            }
            state.seen.insert(labels)
            return labels
        }
    }

    /// How many times a new label set was folded into `other`.
    var overflowed: Int { state.withLockedValue { $0.overflowed } }
}
