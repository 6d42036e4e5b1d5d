import WeftCapture
import WeftCore
import WeftProxy

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How `weft-node` runs on this host: files, listeners and what the capture adds to the node config.
public struct NodeSettings: Sendable {
    /// A node config JSON file (a static mesh); nil runs with an empty mesh.
    public var nodeConfigPath: String?
    /// The node's name when no node config file gives one.
    public var nodeName: String =
        ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "node"
    public var servicesDirectory = ServiceOverrideLoader.defaultDirectory
    /// Capture settings; its VIP ranges and ports are merged with what the node config declares.
    public var capture = CaptureConfiguration()
    public var captureEnabled = true
    public var dnsEnabled = true
    /// Slices (paths from the cgroup2 root) whose service units are identities; nothing outside them is a workload.
    public var identitySlices = CgroupIdentityRules.defaultTrustedSlices
    /// DNS upstreams; nil reads /etc/resolv.conf at start.
    public var dnsUpstreams: [IPSocketAddress]?
    /// Keep the capture table when the node stops (not when it hands over to a successor, which keeps it anyway):
    /// the host's mesh traffic is then refused until a node runs again, instead of flowing unmeshed.
    public var failClosed = false

    /// The control plane's node API (mTLS, weftd's :15012); nil runs a static mesh from `nodeConfigPath`.
    public var controlPlaneAddress: IPSocketAddress?
    /// The control plane's join listener (weftd's :15013); by default the node API's host at port 15013.
    public var joinAddress: IPSocketAddress?
    /// A one-time join token; needed only until the node holds credentials in `stateDirectory`.
    public var joinToken: String?
    public var stateDirectory = NodeStateDirectory.defaultPath
    /// Addresses this node registers its endpoints at; nil takes the host's interface addresses.
    public var nodeAddresses: [IPAddress]?
    public var hbonePort = WeftPort.hbone.rawValue
    /// Where /metrics, /healthz, /readyz, /config_dump and /certs are served.
    public var adminAddresses = [IPSocketAddress(address: .v4(0x7F00_0001), port: WeftPort.nodeAdmin.rawValue)]
    /// How long a stopping node lets open connections finish before closing them.
    public var drainTimeout: Duration = .seconds(600)
    /// How long a node released for a successor (SIGUSR2, a unit restart) keeps serving while none takes over,
    /// before it stops.
    public var handOverWait: Duration = .seconds(10)

    /// Where this node listens for a successor in a hitless restart.
    public var handOverSocketPath: String { stateDirectory + "/handover.sock" }
    /// Credentials the metrics push presents, from a file on this node.
    public var metricsPushCredentials: MetricsPushCredentials?

    public init() {}

    public enum Error: Swift.Error, CustomStringConvertible {
        case unreadableConfig(path: String, reason: String)
        case invalidConfig(path: String, reason: String)

        public var description: String {
            switch self {
            case .unreadableConfig(let path, let reason): "cannot read node config \(path): \(reason)"
            case .invalidConfig(let path, let reason): "node config \(path) is invalid: \(reason)"
            }
        }
    }

    /// The node config from `nodeConfigPath`, validated; an empty mesh when there is none.
    public func loadNodeConfig() throws(Error) -> NodeConfig {
        guard let path = nodeConfigPath else { return NodeConfig(version: 0, node: nodeName) }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadableConfig(path: path, reason: SystemErrorText.describe(error))
        }
        let config: NodeConfig
        do {
            config = try JSONDecoder().decode(NodeConfig.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            throw .invalidConfig(path: path, reason: Self.describe(context))
        } catch let DecodingError.keyNotFound(key, context) {
            throw .invalidConfig(path: path, reason: "missing key '\(key.stringValue)' at \(Self.path(context))")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw .invalidConfig(path: path, reason: Self.describe(context))
        } catch {
            throw .invalidConfig(path: path, reason: "\(error)")
        }
        do {
            try config.validate()
        } catch {
            throw .invalidConfig(path: path, reason: error.description)
        }
        return config
    }

    private static func path(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return path.isEmpty ? "the top level" : String(path.drop { $0 == "." })
    }

    private static func describe(_ context: DecodingError.Context) -> String {
        "\(path(context)): \(context.debugDescription)"
    }

    /// The node config, the services.d overrides (with the files that could not be used) and the capture they
    /// call for.
    public func loadPlan() throws(Error) -> NodePlan {
        let state = NodeState(config: try loadNodeConfig())
        let (overrides, fileErrors) = ServiceOverrideLoader.load(directory: servicesDirectory)
        return NodePlan(
            state: state, overrides: overrides, fileErrors: fileErrors,
            capture: captureConfiguration(for: state, overrides: overrides))
    }

    /// What to capture for this node config: its VIP ranges and mesh endpoints (outbound) and the local service
    /// ports (inbound), plus what these settings add (outbound ports are captured at any address only when asked).
    public func captureConfiguration(for state: NodeState, overrides: [ServiceOverride]) -> CaptureConfiguration {
        var configuration = capture
        configuration.vipRanges = Self.unique(capture.vipRanges + state.config.vipRanges)
        // Ports the mesh declares never include the node's own; ports given in these settings are kept as given,
        // so that validation refuses them with a reason.
        let nodePorts = configuration.nodePorts
        configuration.meshEndpoints = state.meshEndpoints.filter { !nodePorts.contains($0.port) }
        configuration.inboundPorts = Self.unique(
            capture.inboundPorts
                + inboundPorts(for: state, overrides: overrides).keys.sorted().filter { !nodePorts.contains($0) })
        return configuration
    }

    /// Inbound plaintext ports and how each is treated: local endpoints of the node config, and ports that
    /// services.d files declare (under the node's mode).
    public func inboundPorts(for state: NodeState, overrides: [ServiceOverride]) -> [UInt16: InboundPlaintextRouter
        .Port]
    {
        var ports = state.inboundPorts.mapValues { InboundPlaintextRouter.Port(mode: $0.mode, service: $0.service) }
        for override in overrides {
            for port in override.ports ?? [] where ports[port] == nil {
                ports[port] = InboundPlaintextRouter.Port(
                    mode: state.config.meshMode,
                    service: ServiceName(namespace: override.namespace, name: override.name))
            }
        }
        return ports
    }

    private static func unique<T: Hashable>(_ items: [T]) -> [T] {
        var seen = Set<T>()
        return items.filter { seen.insert($0).inserted }
    }
}

/// What a node runs with, loaded from its settings' files.
public struct NodePlan: Sendable {
    public var state: NodeState
    public var overrides: [ServiceOverride]
    public var fileErrors: [SettingsError]
    public var capture: CaptureConfiguration
}

extension NodeSettings {
    /// The control plane's join listener: `join_address`, else the node API's host at port 15013.
    var joinListener: IPSocketAddress? {
        joinAddress ?? controlPlaneAddress.map { IPSocketAddress(address: $0.address, port: WeftPort.join.rawValue) }
    }

    /// Where this node reaches the control plane: its node API and its join listener.
    var controlPlaneListeners: [IPSocketAddress] {
        [controlPlaneAddress, joinListener].compactMap { $0 }
    }

    /// The addresses this node joins and registers with: `node_addresses`, else the host's non-loopback interface
    /// addresses.
    func registeredAddresses() -> [IPAddress] {
        nodeAddresses ?? LocalAddresses.all().filter { !$0.isLoopback }
    }
}
