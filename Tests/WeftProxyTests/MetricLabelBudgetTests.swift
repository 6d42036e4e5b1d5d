import Testing
import WeftCore

@testable import WeftProxy

/// The metrics keep a bounded number of label sets: new ones past the limit count under `other`.
struct MetricLabelBudgetTests {
    static func labels(_ source: String, _ destination: String) -> ProxyMetrics.Labels {
        ProxyMetrics.Labels(
            reporter: .source, source: ServiceName(name: source), destination: ServiceName(name: destination))
    }

    @Test func labelSetsPastTheLimitAreCountedUnderOther() {
        let metrics = ProxyMetrics(labelSetLimit: 2)
        metrics.denied(Self.labels("a", "b"))
        metrics.denied(Self.labels("a", "c"))
        for index in 0..<50 { metrics.denied(Self.labels("caller-\(index)", "b")) }
        metrics.denied(Self.labels("a", "b"))

        let text = metrics.exposition()
        #expect(
            text.contains(
                #"weft_tcp_connections_denied_total{reporter="source",source_service="a",destination_service="b"} 2"#))
        #expect(
            text.contains(
                #"weft_tcp_connections_denied_total{reporter="source",source_service="a",destination_service="c"} 1"#))
        #expect(
            text.contains(
                #"weft_tcp_connections_denied_total{reporter="source",source_service="other",destination_service="other"} 50"#
            ))
        #expect(!text.contains("caller-"))
        #expect(text.contains("weft_metrics_label_sets_overflowed_total 50"))
        #expect(metrics.labelBudget.overflowed == 50)
    }
}
