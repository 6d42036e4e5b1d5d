import Foundation
import Logging
import Testing
import WeftCore
import WeftLabSupport

@testable import WeftCapture

/// The netlink connection against a real kernel in a test host: failures change nothing.
@Suite(.serialized) struct NftablesConnectionLabTests {
    @Test func aRejectedReplaceNamesTheMessageAndLeavesTheInstalledTableAsItWas() async throws {
        try await Lab.withLab(hosts: ["a"]) { lab in
            let a = lab.host("a")
            let connection = try NetworkNamespace.perform(inNamespaceAt: a.namespacePath) { try NftablesConnection() }
            var configuration = CaptureConfiguration()
            configuration.outboundPorts = [8080]
            configuration.captureDNS = false  // its lease counts down in `nft list`
            let good = CaptureRuleset.table(for: configuration)
            try connection.replace(good)
            let installed = try #require(try connection.contents(family: .inet, name: "weft"))
            let listed = try await a.run(["nft", "list", "table", "inet", "weft"]).stdout

            var broken = good
            broken.rules.append(
                NftRule(
                    chain: "output",
                    [
                        .payload(.transport, offset: 2, length: 2), .lookup(set: "no_such_set", id: 99),
                        .verdict(.return),
                    ]))
            #expect {
                try connection.replace(broken)
            } throws: { error in
                "\(error)".contains("the kernel rejected rule \(broken.rules.count) (chain output)")
                    && "\(error)".contains("nothing was changed")
            }
            #expect(try connection.contents(family: .inet, name: "weft") == installed)
            #expect(try await a.run(["nft", "list", "table", "inet", "weft"]).stdout == listed)

            #expect(try connection.deleteTable(family: .inet, name: "weft"))
            #expect(try connection.contents(family: .inet, name: "weft") == nil)
            #expect(try connection.deleteTable(family: .inet, name: "weft") == false)
        }
    }

    @Test func badNodeInputIsRefusedWithAClearErrorAndInstallsNothing() async throws {
        try await Lab.withLab(hosts: ["a"]) { lab in
            let a = lab.host("a")
            let node = try Lab.binary("weft-node")
            let configPath = "/run/weft-lab/\(lab.name)/bad.json"
            try #"{"version": 1, "node": "a", "services": [{"name": "web", "ports": [80], "vip": "198.18.0.7"}]}"#
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            for (arguments, message) in [
                (["--static-config", "/nonexistent/node.json"], "cannot read node config /nonexistent/node.json"),
                (["--static-config", configPath], "services.web.vip: 198.18.0.7 is outside vip_ranges"),
                (["--vip-range", "240.0.0.0/33"], "--vip-range 240.0.0.0/33"),
                (["--outbound-port", "15001"], "one of the node's own ports"),
            ] {
                let result = try await a.run([node, "capture", "install"] + arguments)
                #expect(!result.succeeded && result.stderr.contains(message), "\(arguments): \(result)")
            }
            #expect(try await a.run(["nft", "list", "ruleset"]).stdout.isEmpty)
        }
    }

    @Test func endpointsAreAddressPortSetsAndTheDNSLeaseExpiresUnlessRenewed() async throws {
        try await Lab.withLab(hosts: ["a"]) { lab in
            let a = lab.host("a")
            let connection = try NetworkNamespace.perform(inNamespaceAt: a.namespacePath) { try NftablesConnection() }
            var configuration = CaptureConfiguration()
            configuration.meshEndpoints = [
                try #require(IPSocketAddress("198.18.0.2:8080")), try #require(IPSocketAddress("[2001:2::2]:8443")),
            ]
            configuration.dnsLease = .milliseconds(1500)
            let table = CaptureRuleset.table(for: configuration)
            try connection.replace(table)
            let listed = try await a.run(["nft", "list", "table", "inet", "weft"]).stdout
            #expect(listed.contains("type ipv4_addr . inet_service"), "\(listed)")
            #expect(listed.contains("198.18.0.2 . 8080"), "\(listed)")
            #expect(listed.contains("2001:2::2 . 8443"), "\(listed)")
            #expect(listed.contains("ip daddr . th dport @endpoints4"), "\(listed)")
            #expect(listed.contains("udp dport @dns_lease"), "\(listed)")

            // Renewed, the lease stays; left alone, the kernel removes it.
            let lease = CaptureRuleset.dnsLease(for: configuration)
            func leaseHolds() async throws -> Bool {
                try await a.run(["nft", "list", "set", "inet", "weft", "dns_lease"]).stdout.contains("elements = { 53")
            }
            for _ in 0..<4 {
                try connection.renew(lease.elements, of: lease, in: table)
                #expect(try await leaseHolds())
                try await Task.sleep(for: .milliseconds(500))
            }
            let deadline = ContinuousClock.now + .seconds(5)
            while try await leaseHolds(), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await leaseHolds() == false, "the lease expired")
            // An expired lease is renewed as well.
            try connection.renew(lease.elements, of: lease, in: table)
            #expect(try await leaseHolds())
        }
    }
}
