/// The command-line flags of `weftd`, as given: `ControlPlaneConfiguration.load(flags:)` merges them over
/// weftd.toml. Nil and empty mean "not given".
public struct ControlPlaneFlags: Sendable, Equatable {
    /// weftd.toml to read; nil reads `ControlPlaneConfiguration.defaultPath` when it exists.
    public var config: String?
    public var dataDirectory: String?
    public var postgresURL: String?
    public var trustDomain: String?
    public var nodeListen: String?
    public var joinListen: String?
    public var adminListen: String?
    public var adminPlaintext = false
    public var serverNames: [String] = []
    public var workloadCertificateTTL: String?
    public var nodeTimeout: String?
    public var heartbeatInterval: String?
    public var caKeyEncryptionKeyFile: String?

    public init() {}
}
