import WeftCore

/// One message between a node process and its successor on the hand-over socket. The successor says hello; the
/// predecessor offers its listening sockets (the descriptors ride along, in the order of `sockets`) or refuses;
/// the successor says it takes over (`accepting`); the predecessor stops accepting and says it drains.
enum HandOverMessage: Codable, Sendable, Equatable {
    /// The successor: its pid and network namespace (a predecessor in another namespace must not answer).
    case hello(pid: Int32, networkNamespace: UInt64)
    case offer(sockets: [ListenSocketKey], pid: Int32)
    case refused(reason: String)
    case accepting
    case draining(connections: Int)

    /// The protocol's version: a predecessor that speaks another refuses.
    static let version = 1
}

/// Why a hand-over failed, for the log of either side.
struct HandOverError: Error, CustomStringConvertible {
    var description: String
}
