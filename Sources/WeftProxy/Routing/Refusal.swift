import NIOHTTP1

/// Why a connection is not relayed: the HTTP status an HBONE CONNECT is answered with, the result the access log
/// records, and a reason a user can act on (sent in `x-weft-reason` and logged).
///
/// The capture listeners reset refused connections (TCP has no status); they record the result and reason alike.
public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponseStatus
    public var result: ConnectionResult
    public var reason: String

    public init(status: HTTPResponseStatus, result: ConnectionResult = .refused, reason: String) {
        self.status = status
        self.result = result
        self.reason = reason
    }

    public var description: String { reason }

    /// Denied by policy, or the caller cannot be judged (no identity, egress refused).
    public static func forbidden(_ reason: String) -> Refusal {
        Refusal(status: .forbidden, reason: reason)
    }

    /// The destination is no service or endpoint here.
    public static func notFound(_ reason: String) -> Refusal {
        Refusal(status: .notFound, reason: reason)
    }

    /// The destination exists but cannot be reached now; `result` says whether that is a refusal (nothing healthy
    /// to pick) or a failure (the chosen workload did not accept).
    public static func unavailable(_ reason: String, result: ConnectionResult = .refused) -> Refusal {
        Refusal(status: .serviceUnavailable, result: result, reason: reason)
    }
}
