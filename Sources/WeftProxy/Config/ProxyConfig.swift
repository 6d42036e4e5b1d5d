import NIOConcurrencyHelpers
import WeftCore

/// Everything the proxy decides with: the node's services and endpoints, the intentions, and the mesh's
/// settings. A value: the node builds a new one for each config version and hands it to `ProxyConfigStore`.
public struct ProxyConfig: Sendable {
    public var state: NodeState
    public var policy: AuthorizationPolicy
    public var trustDomain: String
    /// Port of the HBONE listener on every node.
    public var hbonePort: UInt16

    public init(
        state: NodeState, policy: AuthorizationPolicy = AuthorizationPolicy(),
        trustDomain: String = SPIFFEID.defaultTrustDomain, hbonePort: UInt16 = WeftPort.hbone.rawValue
    ) {
        self.state = state
        self.policy = policy
        self.trustDomain = trustDomain
        self.hbonePort = hbonePort
    }

    public var nodeName: String { state.nodeName }

    /// The local service a process belongs to, by the name the capture found for it.
    public func localService(named name: String) -> ServiceName? {
        state.localService(named: name)?.serviceName ?? ServiceName(name: name)
    }

    /// The service a workload SPIFFE ID names; nil for node identities and other trust domains.
    public func service(of identity: SPIFFEID) -> ServiceName? {
        guard identity.trustDomain == trustDomain, case .workload(let namespace, let service) = identity.kind else {
            return nil
        }
        return ServiceName(namespace: namespace, name: service)
    }
}

/// The proxy's current config, swapped whole on each new version; every connection reads it once when it starts.
/// A swap re-judges the connections that are open (see `LiveConnections`).
public final class ProxyConfigStore: Sendable {
    private let box: NIOLockedValueBox<ProxyConfig>
    private let live: LiveConnections

    public init(_ config: ProxyConfig, live: LiveConnections) {
        self.box = NIOLockedValueBox(config)
        self.live = live
    }

    public var current: ProxyConfig { box.withLockedValue { $0 } }

    /// Installs `config`; open connections that its policy denies are closed. Returns how many were closed.
    @discardableResult
    public func update(_ config: ProxyConfig) -> Int {
        box.withLockedValue { $0 = config }
        return live.enforce(config.policy)
    }
}
