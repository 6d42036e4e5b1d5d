/// How a connection ended, as the access log's `result` and the metrics record it.
public enum ConnectionResult: String, Sendable, Codable, CaseIterable {
    /// Relayed until both sides ended.
    case forwarded
    /// Relayed, then ended by the proxy (a policy change or a drain).
    case closed
    /// Refused by policy or routing before any byte was relayed.
    case refused
    /// Could not be relayed: the upstream or the tunnel failed.
    case failed
}
