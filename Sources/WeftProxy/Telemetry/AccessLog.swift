import Dispatch
import NIOConcurrencyHelpers
import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// One line of the access log: a finished (or refused) connection.
public struct AccessLogEntry: Codable, Sendable, Equatable {
    public var time: String
    /// The listener the connection came in on (`outbound`, `inbound` for HBONE, `inbound_plaintext`).
    public var direction: ListenerRole
    public var client: String
    /// Outbound: where the client meant to connect; inbound: the endpoint the CONNECT asked for.
    public var originalDestination: String
    public var sourceService: String?
    /// The caller's SPIFFE ID as the mTLS handshake proved it (inbound), or the one presented (outbound tunnel).
    public var sourceIdentity: String?
    public var sourceCgroup: String?
    public var sourceUID: UInt32?
    public var destinationService: String?
    public var upstream: String?
    /// The node a tunnelled connection went to (outbound).
    public var tunnelNode: String?
    /// Shared by both nodes' lines of one tunnelled connection.
    public var requestID: String?
    public var result: ConnectionResult
    public var reason: String?
    public var bytesSent: UInt64
    public var bytesReceived: UInt64
    public var durationMilliseconds: Double

    enum CodingKeys: String, CodingKey {
        case time, direction, client, upstream, result, reason
        case originalDestination = "original_destination"
        case sourceService = "source_service"
        case sourceIdentity = "source_identity"
        case tunnelNode = "tunnel_node"
        case requestID = "request_id"
        case sourceCgroup = "source_cgroup"
        case sourceUID = "source_uid"
        case destinationService = "destination_service"
        case bytesSent = "bytes_sent"
        case bytesReceived = "bytes_received"
        case durationMilliseconds = "duration_ms"
    }
}

/// Writes access-log entries as JSON lines to a sink (stdout in production, a collector in tests).
public final class AccessLog: Sendable {
    private let sink: @Sendable (String) -> Void

    public init(sink: @escaping @Sendable (String) -> Void) {
        self.sink = sink
    }

    /// At most this many lines wait for a slow standard output; more are dropped and counted.
    public static let defaultQueueCapacity = 16_384

    /// JSON lines on standard output, written by one background queue so event loops never block on the pipe; at
    /// most `capacity` lines wait, and each line dropped past that calls `onDrop`.
    public static func standardOutput(
        capacity: Int = defaultQueueCapacity, onDrop: @escaping @Sendable () -> Void
    ) -> AccessLog {
        let writer = BoundedLineWriter(capacity: capacity, label: "weft.access-log", onDrop: onDrop) { line in
            StandardStream.output.write(line + "\n")
        }
        return AccessLog { line in writer.enqueue(line) }
    }

    /// Collects lines in memory; for tests.
    public static func collecting() -> (AccessLog, @Sendable () -> [String]) {
        let lines = NIOLockedValueBox<[String]>([])
        return (AccessLog { line in lines.withLockedValue { $0.append(line) } }, { lines.withLockedValue { $0 } })
    }

    public func record(_ entry: AccessLogEntry) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(entry) else { return }
        sink(String(decoding: data, as: UTF8.self))
    }

    static func timestamp(_ date: Date = Date()) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }
}
