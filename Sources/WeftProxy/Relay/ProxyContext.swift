import NIOConcurrencyHelpers
import NIOCore
import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What every listener of one node's proxy shares: the current config, the open connections, telemetry, and the
/// ways out (plain TCP and HBONE tunnels).
public struct ProxyContext: Sendable {
    public var config: ProxyConfigStore
    public var live: LiveConnections
    public var accessLog: AccessLog
    public var metrics: ProxyMetrics
    public var connector: UpstreamConnector
    /// Nil on a node without mesh credentials (a static mesh): connections to other nodes are refused.
    public var tunnels: HBONEConnectionPool?

    public init(
        config: ProxyConfigStore, live: LiveConnections, accessLog: AccessLog, metrics: ProxyMetrics,
        connector: UpstreamConnector, tunnels: HBONEConnectionPool?
    ) {
        self.config = config
        self.live = live
        self.accessLog = accessLog
        self.metrics = metrics
        self.connector = connector
        self.tunnels = tunnels
    }
}

enum RelayError: Error, CustomStringConvertible {
    case clientGone

    var description: String { "the client closed before the relay started" }
}

/// One connection's telemetry: the access-log line and metrics when it ends, attributed as `entry` says.
struct ConnectionRecord: Sendable {
    var entry: AccessLogEntry
    var labels: ProxyMetrics.Labels
    let started: Date
    let startedInstant = ContinuousClock.now

    init(direction: String, client: String, destination: String, labels: ProxyMetrics.Labels) {
        started = Date()
        self.labels = labels
        entry = AccessLogEntry(
            time: AccessLog.timestamp(started), direction: direction, client: client, originalDestination: destination,
            sourceService: labels.source?.description, destinationService: labels.destination?.description,
            result: "", bytesSent: 0, bytesReceived: 0, durationMilliseconds: 0)
    }

    /// A connection refused or failed before any byte was relayed.
    func refused(_ result: String, reason: String, context: ProxyContext) {
        var entry = entry
        entry.result = result
        entry.reason = reason
        entry.durationMilliseconds = Self.milliseconds(since: started)
        if result == "refused" { context.metrics.denied(labels) }
        context.accessLog.record(entry)
    }

    /// Relays between `downstream` (the side that came to us) and `upstream` (both on one event loop, their lower
    /// handlers in place, not reading yet), registers the pair with the live connections so a policy change can
    /// close it, and writes the record when both are closed.
    func relay(
        downstream: any Channel, upstream: any Channel, context: ProxyContext,
        resetDownstream: @escaping @Sendable () -> Void
    ) throws {
        guard downstream.isActive else { throw RelayError.clientGone }
        let done = downstream.eventLoop.makePromise(of: RelayStats.self)
        let meter = context.metrics.meter(labels)
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
            remove = context.live.add(
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
            entry.result = reason == nil ? "forwarded" : "closed"
            entry.reason = reason
            entry.bytesSent = stats.bytesFromDownstream
            entry.bytesReceived = stats.bytesFromUpstream
            entry.durationMilliseconds = Self.milliseconds(since: started)
            context.metrics.closed(labels, duration: ContinuousClock.now - startedInstant)
            context.accessLog.record(entry)
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
