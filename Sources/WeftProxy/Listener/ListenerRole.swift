/// Which of the node's listeners a connection came in on; the access log's `direction`.
public enum ListenerRole: String, Sendable, Codable, CaseIterable {
    /// Connections local processes opened, redirected by the capture (:15001).
    case outbound
    /// Plaintext connections from outside the mesh to a declared service port (:15006).
    case inboundPlaintext = "inbound_plaintext"
    /// HBONE tunnels from other nodes (:15008).
    case inbound

    /// The side of a connection this listener reports metrics as.
    var reporter: ProxyMetrics.Reporter {
        switch self {
        case .outbound: .source
        case .inboundPlaintext, .inbound: .destination
        }
    }
}
