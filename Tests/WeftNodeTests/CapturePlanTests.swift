import Foundation
import Testing
import WeftCore

@testable import WeftNode

/// What a node config asks the capture to take: VIPs and the concrete mesh endpoints, never a port at every address
/// unless the settings ask for it.
@Suite struct CapturePlanTests {
    @Test func outboundCaptureIsVIPsAndEndpointsNotEveryHostsTrafficToAServicePort() throws {
        let config = try JSONDecoder().decode(
            NodeConfig.self,
            from: Data(
                """
                {"version": 1, "node": "a", "vip_ranges": ["240.0.0.0/4"],
                 "services": [
                   {"name": "web", "ports": [443], "vip": "240.0.0.7",
                    "endpoints": [{"address": "198.18.0.2", "port": 8443, "node": "b"},
                                  {"address": "2001:2::2", "port": 8443, "node": "b"}]},
                   {"name": "odd", "ports": [15008],
                    "endpoints": [{"address": "198.18.0.3", "port": 15008, "node": "c"}]}]}
                """.utf8))
        var settings = NodeSettings()
        settings.capture.outboundPorts = [9000]
        let capture = settings.captureConfiguration(for: NodeState(config: config), overrides: [])
        #expect(capture.meshEndpoints.map(\.description) == ["198.18.0.2:8443", "[2001:2::2]:8443"])
        #expect(capture.outboundPorts == [9000], "443 and 8443 are not captured at every address")
        #expect(capture.vipRanges.contains(try IPCIDR("240.0.0.0/4")))
    }
}
