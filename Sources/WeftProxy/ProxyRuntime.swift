import WeftCore

/// What every listener of one node's proxy shares: the current config, the open connections, telemetry, and the
/// ways out (plain TCP and HBONE tunnels).
public struct ProxyRuntime: Sendable {
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
