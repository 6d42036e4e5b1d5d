/// The command-line flags of `weft-node`, as given: `NodeSettings.load(flags:)` merges them over node.toml.
/// Empty lists and nil mean "not given" (node.toml or the default stays).
public struct NodeFlags: Sendable, Equatable {
    /// node.toml to read; nil reads `NodeSettings.defaultConfigPath` when it exists.
    public var config: String?
    public var staticConfig: String?
    public var servicesDirectory: String?
    public var vipRanges: [String] = []
    public var outboundPorts: [UInt16] = []
    public var excludedPorts: [UInt16] = []
    public var excludedCIDRs: [String] = []
    public var noDNSCapture = false

    public var nodeName: String?
    public var dnsUpstreams: [String] = []
    public var identitySlices: [String] = []
    public var noCapture = false
    public var noDNS = false
    public var cleanupOnExit = false
    public var failClosed = false
    public var controlPlane: String?
    public var joinAddress: String?
    public var joinToken: String?
    public var joinTokenFile: String?
    public var stateDirectory: String?
    public var nodeAddresses: [String] = []
    public var adminListen: String?
    public var drainTimeout: String?
    public var handOverWait: String?
    public var metricsPushBearerTokenFile: String?
    public var metricsPushBasicAuthFile: String?

    public init() {}
}
