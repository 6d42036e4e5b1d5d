import Foundation
import Testing
import WeftCore

@testable import WeftNode

@Suite struct NodeSettingsFlagsTests {
    @Test func flagsOverrideTheConfigFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("weft-flags-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("node.toml").path
        try """
        node_name = "from-file"
        control_plane = "198.18.0.1:15012"
        drain_timeout = "30s"
        vip_ranges = ["240.0.0.0/4"]
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let tokenFile = directory.appendingPathComponent("token").path
        try "weftjoin.a.b.c\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)

        var flags = NodeFlags()
        flags.config = config
        flags.nodeName = "from-flag"
        flags.joinTokenFile = tokenFile
        flags.adminListen = "[::1]:25020"
        flags.dnsUpstreams = ["198.18.0.53:53"]
        flags.identitySlices = ["weft-lab/l1/a/system.slice"]
        flags.excludedCIDRs = ["198.19.0.0/16"]
        flags.noDNS = true
        flags.failClosed = true
        flags.handOverWait = "2s"
        let settings = try NodeSettings.load(flags: flags, defaultConfigPath: "/nonexistent")
        #expect(settings.failClosed && settings.handOverWait == .seconds(2))
        #expect(settings.nodeName == "from-flag")
        #expect(settings.controlPlaneAddress == IPSocketAddress("198.18.0.1:15012"))
        #expect(settings.drainTimeout == .seconds(30))
        #expect(settings.capture.vipRanges == [try IPCIDR("240.0.0.0/4")])
        #expect(settings.joinToken == "weftjoin.a.b.c")
        #expect(settings.adminAddresses == [IPSocketAddress("[::1]:25020")!])
        #expect(settings.dnsUpstreams == [IPSocketAddress("198.18.0.53:53")!])
        #expect(settings.identitySlices == ["weft-lab/l1/a/system.slice"])
        #expect(NodeSettings().identitySlices == ["system.slice"])
        #expect(settings.capture.excludedCIDRs.contains(try IPCIDR("198.19.0.0/16")))
        #expect(!settings.dnsEnabled && !settings.capture.captureDNS, "no DNS resolver means no DNS capture")
    }

    @Test func flagsNotGivenLeaveTheSettingsAlone() throws {
        var settings = NodeSettings()
        settings.nodeName = "kept"
        settings.drainTimeout = .seconds(9)
        let before = settings
        try settings.apply(flags: NodeFlags())
        #expect(settings.nodeName == before.nodeName && settings.drainTimeout == before.drainTimeout)
        #expect(settings.capture == before.capture && settings.adminAddresses == before.adminAddresses)
    }

    @Test(arguments: [
        ("controlPlane", "weftd:15012", "--control-plane weftd:15012: 'weftd:15012' is not ADDRESS:PORT"),
        ("joinAddress", "198.18.0.1", "--join-address 198.18.0.1: '198.18.0.1' is not ADDRESS:PORT"),
        ("adminListen", "localhost:15020", "--admin-listen localhost:15020: 'localhost:15020' is not ADDRESS:PORT"),
        ("dnsUpstream", "198.18.0.53", "--dns-upstream 198.18.0.53: '198.18.0.53' is not ADDRESS:PORT"),
        ("drainTimeout", "soon", "--drain-timeout soon: 'soon' is not a duration"),
        ("handOverWait", "later", "--handover-wait later: 'later' is not a duration"),
        ("vipRange", "240.0.0.0/40", "--vip-range 240.0.0.0/40: "),
        ("nodeAddress", "host-a", "--node-address host-a: not an IP address"),
        ("joinTokenFile", "/nonexistent/token", "--join-token-file /nonexistent/token: "),
    ])
    func aBadFlagIsRefusedAndChangesNothing(flag: String, value: String, expected: String) {
        var flags = NodeFlags()
        flags.nodeName = "changed"
        switch flag {
        case "controlPlane": flags.controlPlane = value
        case "joinAddress": flags.joinAddress = value
        case "adminListen": flags.adminListen = value
        case "dnsUpstream": flags.dnsUpstreams = [value]
        case "drainTimeout": flags.drainTimeout = value
        case "handOverWait": flags.handOverWait = value
        case "vipRange": flags.vipRanges = [value]
        case "nodeAddress": flags.nodeAddresses = [value]
        default: flags.joinTokenFile = value
        }
        var settings = NodeSettings()
        settings.nodeName = "kept"
        #expect {
            try settings.apply(flags: flags)
        } throws: { error in
            "\(error)".hasPrefix(expected)
        }
        #expect(settings.nodeName == "kept", "a refused flag changes nothing")
    }

    @Test func anUnreadableConfigFileIsNamed() {
        var flags = NodeFlags()
        flags.config = "/nonexistent/node.toml"
        #expect {
            _ = try NodeSettings.load(flags: flags)
        } throws: { error in
            "\(error)".contains("/nonexistent/node.toml")
        }
    }
}
