/// Byte counts of one relayed connection, as seen from the side that accepted it.
public struct RelayStats: Sendable, Equatable {
    /// Bytes read from the accepted (downstream) side and written to the upstream side.
    public var bytesFromDownstream: UInt64 = 0
    /// Bytes read from the upstream side and written to the downstream side.
    public var bytesFromUpstream: UInt64 = 0

    public init(bytesFromDownstream: UInt64 = 0, bytesFromUpstream: UInt64 = 0) {
        self.bytesFromDownstream = bytesFromDownstream
        self.bytesFromUpstream = bytesFromUpstream
    }
}
