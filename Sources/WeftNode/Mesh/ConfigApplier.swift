import Logging
import NIOConcurrencyHelpers
import WeftCapture
import WeftCore
import WeftProxy

/// Puts a new config version into effect: proxy config (and with it live-connection enforcement), inbound ports,
/// DNS names, capture, trust bundle; then keeps it on disk as the last good config.
struct ConfigApplier: Sendable {
    let settings: NodeSettings
    let overrides: [ServiceOverride]
    let configStore: ProxyConfigStore
    let inboundRouter: InboundPlaintextRouter
    let resolver: DNSResolver?
    let capture: CaptureService?
    let certificates: NodeCertificates
    let received: NodeReadinessToken
    let telemetry: NIOLockedValueBox<TelemetrySettings?>
    let stateDirectory: NodeStateDirectory
    let cache: ConfigCache
    let logger: Logger

    func apply(_ config: CompiledNodeConfig, summary: ConfigCache.UpdateSummary) async {
        let proxyConfig = ProxyConfig(config, hbonePort: settings.hbonePort)
        let state = proxyConfig.state
        let closed = configStore.update(proxyConfig)
        inboundRouter.update(ports: settings.inboundPorts(for: state, overrides: overrides))
        resolver?.update(names: state.meshNames)
        received.set(ready: config.version != 0)
        telemetry.withLockedValue { $0 = config.telemetry }
        if let capture {
            do {
                try await capture.update(settings.captureConfiguration(for: state, overrides: overrides))
            } catch {
                logger.error("cannot update the capture for config \(config.version): \(error)")
            }
        }
        do { try await certificates.publish(trustBundlePEM: config.trustBundlePEM) } catch {
            logger.error("the trust bundle of config \(config.version) is unusable: \(error)")
        }
        do { try stateDirectory.saveConfig(version: config.version, resources: cache.resources) } catch {
            logger.error("\(error)")
        }
        logger.info(
            "config applied",
            metadata: [
                "version": "\(config.version)", "changed": "\(summary.changed.count)",
                "removed": "\(summary.removed.count)",
                "closedConnections": "\(closed)",
            ])
    }
}

extension ProxyConfig {
    /// What the proxy decides with under a config version the control plane pushed.
    init(_ config: CompiledNodeConfig, hbonePort: UInt16) {
        self.init(
            state: NodeState(config: config.nodeConfig), policy: config.policy, trustDomain: config.trustDomain,
            hbonePort: hbonePort)
    }
}
