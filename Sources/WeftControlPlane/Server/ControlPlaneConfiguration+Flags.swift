import Foundation
import WeftCore

extension ControlPlaneConfiguration {
    /// The configuration weftd runs with: defaults, then weftd.toml (`flags.config`, or the default path when it
    /// exists), then the flags; validated.
    public static func load(flags: ControlPlaneFlags, defaultPath: String = ControlPlaneConfiguration.defaultPath)
        throws -> ControlPlaneConfiguration
    {
        var configuration = ControlPlaneConfiguration()
        let path = flags.config ?? defaultPath
        if flags.config != nil || FileManager.default.fileExists(atPath: path) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw Error(message: "cannot read \(path)")
            }
            try configuration.apply(toml: text, path: path)
        }
        try configuration.apply(flags: flags)
        try configuration.validate()
        return configuration
    }

    /// Applies the flags that were given; a flag that cannot be used throws and changes nothing.
    public mutating func apply(flags: ControlPlaneFlags) throws(FlagError) {
        var configuration = self
        func socketAddress(_ flag: String, _ text: String) throws(FlagError) -> IPSocketAddress {
            try FlagError.parsing(flag, text) { try IPSocketAddress(parsing: $0) }
        }
        func duration(_ flag: String, _ text: String) throws(FlagError) -> Duration {
            try FlagError.parsing(flag, text) { try DurationText.parse($0) }
        }
        if let directory = flags.dataDirectory { configuration.dataDirectory = directory }
        if let url = flags.postgresURL { configuration.postgresURL = url }
        if let domain = flags.trustDomain { configuration.registry.trustDomain = domain }
        if let text = flags.nodeListen { configuration.nodeListen = try socketAddress("node-listen", text) }
        if let text = flags.joinListen { configuration.joinListen = try socketAddress("join-listen", text) }
        if let text = flags.adminListen { configuration.adminListen = try socketAddress("admin-listen", text) }
        if flags.adminPlaintext { configuration.adminPlaintext = true }
        configuration.serverNames += flags.serverNames
        if let text = flags.workloadCertificateTTL {
            configuration.registry.workloadCertificateTTL = try duration("workload-certificate-ttl", text)
        }
        if let text = flags.nodeTimeout { configuration.registry.nodeTimeout = try duration("node-timeout", text) }
        if let text = flags.heartbeatInterval {
            configuration.heartbeatInterval = try duration("heartbeat-interval", text)
        }
        if let file = flags.caKeyEncryptionKeyFile { configuration.caKeyEncryptionKeyFile = file }
        self = configuration
    }
}
