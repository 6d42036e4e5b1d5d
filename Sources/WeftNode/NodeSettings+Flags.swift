import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension NodeSettings {
    /// The settings `weft-node` runs with: defaults, then node.toml (`flags.config`, or the default path when it
    /// exists), then the flags.
    public static func load(flags: NodeFlags, defaultConfigPath: String = NodeSettings.defaultConfigPath) throws
        -> NodeSettings
    {
        var settings = NodeSettings()
        let path = flags.config ?? (FileManager.default.fileExists(atPath: defaultConfigPath) ? defaultConfigPath : nil)
        if let path {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw Error.unreadableConfig(path: path, reason: "\(error)")
            }
            try settings.apply(toml: text, path: path)
        }
        try settings.apply(flags: flags)
        return settings
    }

    /// Applies the flags that were given over these settings; a flag that cannot be used throws and changes
    /// nothing.
    public mutating func apply(flags: NodeFlags) throws(FlagError) {
        var settings = self
        func socketAddress(_ flag: String, _ text: String) throws(FlagError) -> IPSocketAddress {
            try FlagError.parsing(flag, text) { try IPSocketAddress(parsing: $0) }
        }
        if let path = flags.staticConfig { settings.nodeConfigPath = path }
        if let directory = flags.servicesDirectory { settings.servicesDirectory = directory }
        if !flags.vipRanges.isEmpty {
            settings.capture.vipRanges = try flags.vipRanges.map { text throws(FlagError) in
                try FlagError.parsing("vip-range", text) { try IPCIDR($0) }
            }
        }
        if !flags.outboundPorts.isEmpty { settings.capture.outboundPorts = flags.outboundPorts }
        if !flags.excludedPorts.isEmpty { settings.capture.excludedPorts = flags.excludedPorts }
        settings.capture.excludedCIDRs += try flags.excludedCIDRs.map { text throws(FlagError) in
            try FlagError.parsing("exclude-cidr", text) { try IPCIDR($0) }
        }
        if flags.noDNSCapture { settings.capture.captureDNS = false }

        if let name = flags.nodeName { settings.nodeName = name }
        if !flags.identitySlices.isEmpty { settings.identitySlices = flags.identitySlices }
        if !flags.dnsUpstreams.isEmpty {
            settings.dnsUpstreams = try flags.dnsUpstreams.map { text throws(FlagError) in
                try socketAddress("dns-upstream", text)
            }
        }
        if flags.noCapture { settings.captureEnabled = false }
        if flags.noDNS { settings.dnsEnabled = false }
        if !settings.dnsEnabled { settings.capture.captureDNS = false }
        if flags.cleanupOnExit { settings.failClosed = false }
        if flags.failClosed { settings.failClosed = true }
        if let text = flags.controlPlane { settings.controlPlaneAddress = try socketAddress("control-plane", text) }
        if let text = flags.joinAddress { settings.joinAddress = try socketAddress("join-address", text) }
        if let token = flags.joinToken { settings.joinToken = token }
        if let file = flags.joinTokenFile {
            settings.joinToken = try FlagError.parsing("join-token-file", file) { file in
                try String(contentsOfFile: file, encoding: .utf8).trimmingWhitespace()
            }
        }
        if let directory = flags.stateDirectory { settings.stateDirectory = directory }
        if !flags.nodeAddresses.isEmpty {
            settings.nodeAddresses = try flags.nodeAddresses.map { text throws(FlagError) in
                guard let address = IPAddress(text) else {
                    throw FlagError(flag: "node-address", value: text, problem: "not an IP address")
                }
                return address
            }
        }
        if let text = flags.adminListen { settings.adminAddresses = [try socketAddress("admin-listen", text)] }
        if let text = flags.drainTimeout {
            settings.drainTimeout = try FlagError.parsing("drain-timeout", text) { try DurationText.parse($0) }
        }
        if let text = flags.handOverWait {
            settings.handOverWait = try FlagError.parsing("handover-wait", text) { try DurationText.parse($0) }
        }
        switch (flags.metricsPushBearerTokenFile, flags.metricsPushBasicAuthFile) {
        case (let bearer?, _?):
            throw FlagError(
                flag: "metrics-push-bearer-token-file", value: bearer,
                problem: "give it or --metrics-push-basic-auth-file, not both")
        case (let bearer?, nil): settings.metricsPushCredentials = .bearerTokenFile(bearer)
        case (nil, let basic?): settings.metricsPushCredentials = .basicAuthFile(basic)
        case (nil, nil): break
        }
        self = settings
    }
}
