import NIOCore
import NIOHTTP1

/// Why an HBONE stream did not open.
public enum HBONEError: Error, CustomStringConvertible, Equatable {
    /// The peer answered the CONNECT with a non-2xx status (403: denied by policy, 503: workload down, ...).
    case refused(status: HTTPResponseStatus, reason: String?)
    /// The stream or the connection ended before the answer.
    case closedBeforeResponse
    /// The TLS handshake failed or the peer's certificate was refused.
    case handshake(String)
    /// The destination node did not answer the CONNECT in time (a peer that accepts TCP but never completes TLS,
    /// or one that stopped answering).
    case noAnswer(within: TimeAmount)

    public var description: String {
        switch self {
        case .refused(let status, let reason):
            "the destination node refused the tunnel (\(status.code))\(reason.map { ": \($0)" } ?? "")"
        case .closedBeforeResponse: "the tunnel stream closed before the destination node answered"
        case .handshake(let reason): "mTLS with the destination node failed: \(reason)"
        case .noAnswer(let timeout):
            "the destination node did not answer the tunnel request within \(timeout.nanoseconds / 1_000_000) ms"
        }
    }

    /// The header both sides use to say why a CONNECT was refused.
    public static let reasonHeader = "x-weft-reason"
}
