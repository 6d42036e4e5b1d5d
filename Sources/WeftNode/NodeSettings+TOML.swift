import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension NodeSettings {
    /// Where `weft-node run` reads its settings when no `--config` is given and the file exists.
    public static let defaultConfigPath = "/etc/weft/node.toml"

    /// Applies the settings of a node.toml; unknown keys and wrong types are errors naming the line, so a typo never
    /// silently does nothing. Flags given on the command line override these.
    public mutating func apply(toml text: String, path: String) throws(SettingsError) {
        var reader = try SettingsReader(parsing: text, file: path)
        nodeName = try reader.string("node_name") ?? nodeName
        controlPlaneAddress = try reader.socketAddress("control_plane") ?? controlPlaneAddress
        joinAddress = try reader.socketAddress("join_address") ?? joinAddress
        if let file = try reader.string("join_token_file") {
            // Needed only until the node has joined: a removed token file is fine once credentials exist.
            joinToken = (try? String(contentsOfFile: file, encoding: .utf8))?.trimmingWhitespace()
        }
        stateDirectory = try reader.string("state_dir") ?? stateDirectory
        nodeAddresses = try reader.ipAddresses("node_addresses") ?? nodeAddresses
        adminAddresses = try reader.socketAddress("admin_listen").map { [$0] } ?? adminAddresses
        drainTimeout = try reader.duration("drain_timeout") ?? drainTimeout
        handOverWait = try reader.duration("handover_wait") ?? handOverWait
        servicesDirectory = try reader.string("services_dir") ?? servicesDirectory
        nodeConfigPath = try reader.string("static_config") ?? nodeConfigPath
        captureEnabled = try reader.boolean("capture") ?? captureEnabled
        dnsEnabled = try reader.boolean("dns") ?? dnsEnabled
        dnsUpstreams = try reader.socketAddresses("dns_upstreams") ?? dnsUpstreams
        identitySlices = try reader.strings("identity_slices") ?? identitySlices
        failClosed = try reader.boolean("fail_closed") ?? failClosed
        // The former name, with the opposite sense.
        if let cleanup = try reader.boolean("cleanup_on_exit") { failClosed = !cleanup }
        capture.vipRanges = try reader.cidrs("vip_ranges") ?? capture.vipRanges
        capture.outboundPorts = try reader.ports("outbound_ports") ?? capture.outboundPorts
        capture.excludedPorts = try reader.ports("excluded_ports") ?? capture.excludedPorts
        capture.excludedCIDRs += try reader.cidrs("excluded_cidrs") ?? []
        let bearer = try reader.string("metrics_push_bearer_token_file")
        let basic = try reader.string("metrics_push_basic_auth_file")
        if bearer != nil, basic != nil {
            throw reader.error(
                "metrics_push_basic_auth_file", "give it or metrics_push_bearer_token_file, not both")
        }
        if let bearer { metricsPushCredentials = .bearerTokenFile(bearer) }
        if let basic { metricsPushCredentials = .basicAuthFile(basic) }
        try reader.finish()
    }
}
