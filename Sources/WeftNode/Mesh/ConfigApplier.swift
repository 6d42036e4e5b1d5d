import Logging
import NIOConcurrencyHelpers
import WeftCapture
import WeftCore
import WeftProxy

/// Puts a new config version into effect: revocations (closing connections with revoked peers), proxy config (and
/// with it live-connection enforcement), inbound ports, DNS names, capture, trust bundle; then keeps it on disk as
/// the last good config. A capture or trust bundle that
/// cannot be put in place fails the version (the control plane gets a NACK naming it) and it is not kept.
struct ConfigApplier: Sendable {
    let settings: NodeSettings
    let overrides: [ServiceOverride]
    let configStore: ProxyConfigStore
    let inboundRouter: InboundPlaintextRouter
    let resolver: DNSResolver?
    let capture: CaptureService?
    let certificates: NodeCertificates
    let revocations: PeerRevocations
    let received: NodeReadinessToken
    let telemetry: NIOLockedValueBox<TelemetrySettings?>
    let stateDirectory: NodeStateDirectory
    let cache: ConfigCache
    let logger: Logger

    func apply(_ config: CompiledNodeConfig, summary: ConfigCache.UpdateSummary) async -> ConfigApplyOutcome {
        let revokedPeers = revocations.update(config.revokedSerials)
        await certificates.forgetRevoked(Set(config.revokedSerials))
        let proxyConfig = ProxyConfig(config, hbonePort: settings.hbonePort)
        let state = proxyConfig.state
        let closed = configStore.update(proxyConfig)
        inboundRouter.update(ports: settings.inboundPorts(for: state, overrides: overrides))
        resolver?.update(names: state.meshNames)
        received.set(ready: config.version != 0)
        telemetry.withLockedValue { $0 = config.telemetry }
        var failures: [String] = []
        if let capture {
            do {
                try await capture.update(settings.captureConfiguration(for: state, overrides: overrides))
            } catch {
                failures.append("cannot update the capture: \(error)")
            }
        }
        do { try await certificates.publish(trustBundlePEM: config.trustBundlePEM) } catch {
            failures.append("the trust bundle is unusable: \(error)")
        }
        guard failures.isEmpty else {
            let reason = failures.joined(separator: "; ")
            logger.error("config \(config.version) did not take effect: \(reason)")
            return .failed(reason: reason)
        }
        do { try stateDirectory.saveConfig(version: config.version, resources: cache.resources) } catch {
            logger.error("\(error)")
        }
        logger.info(
            "config applied",
            metadata: [
                "version": "\(config.version)", "changed": "\(summary.changed.count)",
                "removed": "\(summary.removed.count)",
                "closedConnections": "\(closed)", "revokedCertificates": "\(config.revokedSerials.count)",
                "closedRevokedPeers": "\(revokedPeers)",
            ])
        return .applied
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
