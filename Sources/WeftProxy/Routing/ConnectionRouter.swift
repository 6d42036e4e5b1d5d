/// Decides, from the proxy's current config only, what happens to a captured connection.
public protocol ConnectionRouter: Sendable {
    func decide(_ connection: CapturedConnection, config: ProxyConfig) -> ConnectionDecision
}
