/// HTTP/2 keepalive on the node ↔ control-plane link, on both ends: a ping after this much silence, and the
/// connection closed when the answer does not come in time. A powered-off node (or weftd host) is noticed within
/// `time + timeout`, not after TCP's retransmission timeout.
///
/// Besides, a node sends a heartbeat on its config stream every `heartbeatInterval`; the control plane counts a
/// node as seen when it last heard one, so a silent node goes down after `node_timeout` even while its dead
/// connection is still being found out.
public enum NodeLinkKeepalive {
    public static let time: Duration = .seconds(10)
    public static let timeout: Duration = .seconds(5)
    /// After a keepalive failure the control plane ends the connection gracefully; streams get this long to end.
    public static let graceTime: Duration = .seconds(5)
    public static let heartbeatInterval: Duration = .seconds(2)
}
