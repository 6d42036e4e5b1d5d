import NIOConcurrencyHelpers
import NIOCore
import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One connection's telemetry: the access-log line and metrics when it ends, attributed as `entry` says.
struct ConnectionRecord: Sendable {
    var entry: AccessLogEntry
    var labels: ProxyMetrics.Labels
    let started: Date
    let startedInstant = ContinuousClock.now

    init(role: ListenerRole, client: String, destination: String, labels: ProxyMetrics.Labels) {
        started = Date()
        self.labels = labels
        entry = AccessLogEntry(
            time: AccessLog.timestamp(started), direction: role, client: client, originalDestination: destination,
            sourceService: labels.source?.description, destinationService: labels.destination?.description,
            result: .refused, bytesSent: 0, bytesReceived: 0, durationMilliseconds: 0)
    }

    /// A connection refused before any byte was relayed.
    func refused(_ refusal: Refusal, runtime: ProxyRuntime) {
        notRelayed(refusal.result, reason: refusal.reason, runtime: runtime)
    }

    /// A connection refused or failed before any byte was relayed.
    func notRelayed(_ result: ConnectionResult, reason: String, runtime: ProxyRuntime) {
        var entry = entry
        entry.result = result
        entry.reason = reason
        entry.durationMilliseconds = Self.milliseconds(since: started)
        if result == .refused { runtime.metrics.denied(labels) }
        runtime.accessLog.record(entry)
    }

    /// Relays between `downstream` (the side that came to us) and `upstream` (both on one event loop, their lower
    /// handlers in place, not reading yet), registers the pair with the live connections so a policy change can
    /// close it, and writes the record when both are closed.
    func relay(
        downstream: any Channel, upstream: any Channel, runtime: ProxyRuntime,
        resetDownstream: @escaping @Sendable () -> Void
    ) throws {
        guard downstream.isActive else { throw RelayError.clientGone }
        let done = downstream.eventLoop.makePromise(of: RelayStats.self)
        let meter = runtime.metrics.meter(labels)
        let (downstreamHandler, upstreamHandler) = RelayHandler.matchedPair(completion: done) { count, fromDownstream in
            meter.relayed(count, fromCaller: fromDownstream)
        }
        if labels.destination != nil {
            try downstream.pipeline.syncOperations.addHandler(HTTPRequestCounterHandler { meter.requested() })
        }
        try downstream.pipeline.syncOperations.addHandler(downstreamHandler)
        try upstream.pipeline.syncOperations.addHandler(upstreamHandler)
        let closedBecause = NIOLockedValueBox<String?>(nil)
        let remove: @Sendable () -> Void
        if let destination = labels.destination {
            remove = runtime.live.add(
                LiveConnections.Entry(source: labels.source, destination: destination) { reason in
                    closedBecause.withLockedValue { $0 = reason }
                    resetDownstream()
                    upstream.close(promise: nil)
                })
        } else {
            remove = {}
        }
        meter.started()
        done.futureResult.whenSuccess { stats in
            remove()
            var entry = entry
            let reason = closedBecause.withLockedValue { $0 }
            entry.result = reason == nil ? .forwarded : .closed
            entry.reason = reason
            entry.bytesSent = stats.bytesFromDownstream
            entry.bytesReceived = stats.bytesFromUpstream
            entry.durationMilliseconds = Self.milliseconds(since: started)
            runtime.metrics.closed(labels, duration: ContinuousClock.now - startedInstant)
            runtime.accessLog.record(entry)
        }
        EarlyInputBuffer.release(in: downstream)
        for channel in [downstream, upstream] {
            channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in channel.read() }
        }
    }

    static func milliseconds(since start: Date) -> Double {
        (Date().timeIntervalSince(start) * 1000 * 1000).rounded() / 1000
    }
}
