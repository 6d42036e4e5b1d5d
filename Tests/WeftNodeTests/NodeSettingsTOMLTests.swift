import Foundation
import Testing
import WeftCore

@testable import WeftNode

@Suite struct NodeSettingsTOMLTests {
    @Test func theCaptureIsRemovedOnStopByDefaultAndTheFormerCleanupSettingStillSaysWhetherItIs() throws {
        #expect(!NodeSettings().failClosed)
        #expect(NodeSettings().drainTimeout == .seconds(600) && NodeSettings().handOverWait == .seconds(10))
        for (line, failClosed) in [("cleanup_on_exit = false", true), ("cleanup_on_exit = true", false)] {
            var settings = NodeSettings()
            try settings.apply(toml: line, path: "node.toml")
            #expect(settings.failClosed == failClosed, "\(line)")
        }
    }

    @Test func everySettingIsRead() throws {
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("weft-token-\(UUID().uuidString)")
            .path
        try "weftjoin.a.b.c\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        var settings = NodeSettings()
        try settings.apply(
            toml: """
                node_name = "host-a"
                control_plane = "198.18.0.1:15012"
                join_address = "198.18.0.1:25013"
                join_token_file = "\(tokenFile)"
                state_dir = "/tmp/weft-node-state"
                node_addresses = ["198.18.0.11", "2001:2::11"]
                admin_listen = "127.0.0.1:25020"
                drain_timeout = "30s"
                services_dir = "/tmp/services.d"
                capture = false
                dns = false
                dns_upstreams = ["198.18.0.53:53"]
                identity_slices = ["system.slice", "apps.slice"]
                fail_closed = true
                handover_wait = "3s"
                vip_ranges = ["240.0.0.0/4"]
                outbound_ports = [8080, 9090]
                excluded_ports = [22]
                excluded_cidrs = ["198.18.0.1/32"]
                """, path: "node.toml")
        #expect(settings.nodeName == "host-a")
        #expect(settings.controlPlaneAddress == IPSocketAddress("198.18.0.1:15012"))
        #expect(settings.joinAddress == IPSocketAddress("198.18.0.1:25013"))
        #expect(settings.joinToken == "weftjoin.a.b.c")
        #expect(settings.stateDirectory == "/tmp/weft-node-state")
        #expect(settings.nodeAddresses == [IPAddress("198.18.0.11")!, IPAddress("2001:2::11")!])
        #expect(settings.adminAddresses == [IPSocketAddress("127.0.0.1:25020")!])
        #expect(settings.drainTimeout == .seconds(30))
        #expect(settings.servicesDirectory == "/tmp/services.d")
        #expect(!settings.captureEnabled && !settings.dnsEnabled && settings.failClosed)
        #expect(settings.handOverWait == .seconds(3))
        #expect(settings.dnsUpstreams == [IPSocketAddress("198.18.0.53:53")!])
        #expect(settings.identitySlices == ["system.slice", "apps.slice"])
        #expect(settings.capture.outboundPorts == [8080, 9090])
        #expect(settings.capture.excludedCIDRs.contains(try IPCIDR("198.18.0.1/32")))
    }

    @Test(arguments: [
        (
            "contol_plane = \"198.18.0.1:15012\"",
            "node.toml:1: contol_plane: unknown setting; did you mean control_plane?"
        ),
        ("control_plane = \"weftd:15012\"", "node.toml:1: control_plane: 'weftd:15012' is not ADDRESS:PORT"),
        ("outbound_ports = [0]", "node.toml:1: outbound_ports: 0 is not a port number (1-65535)"),
        ("capture = \"yes\"", "capture: must be true or false"),
        ("drain_timeout = \"soon\"", "drain_timeout: 'soon' is not a duration"),
        ("node_addresses = [\"host-a\"]", "node_addresses: 'host-a' is not an IP address"),
        ("vip_ranges = [\"240.0.0.0/40\"]", "vip_ranges:"),
        ("node_name = ", "node.toml"),
    ])
    func badSettingsAreRefusedNamingTheLine(text: String, expected: String) {
        var settings = NodeSettings()
        #expect {
            try settings.apply(toml: text, path: "node.toml")
        } throws: { error in
            "\(error)".contains(expected) && "\(error)".contains("node.toml")
        }
    }
}
