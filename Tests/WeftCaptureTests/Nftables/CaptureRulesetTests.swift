import Testing
import WeftCore

@testable import WeftCapture

@Suite("nftables rules, sets and batches")
struct CaptureRulesetTests {
    func cidr(_ text: String) throws -> IPCIDR { try IPCIDR(text) }

    @Test func addressRangesBecomeIntervalElementsLikeNftWritesThem() throws {
        let set = NftSet.addresses(
            name: "v4", id: 1, ipv6: false, [try cidr("240.0.0.0/4"), try cidr("198.18.5.0/24")])
        #expect(set.interval && set.keyFields == [.ipv4Address])
        #expect(
            set.elements == [
                NftSetElement(key: [0, 0, 0, 0], intervalEnd: true),
                NftSetElement(key: [198, 18, 5, 0]),
                NftSetElement(key: [198, 18, 6, 0], intervalEnd: true),
                NftSetElement(key: [240, 0, 0, 0]),  // reaches the top: no end element
            ])
    }

    @Test func overlappingAndAdjacentRangesMergeAndOtherFamiliesAreLeftOut() throws {
        let ranges = [
            try cidr("198.18.0.0/24"), try cidr("198.18.1.0/24"), try cidr("198.18.0.128/25"), try cidr("2001:2::/48"),
        ]
        let v4 = NftSet.addresses(name: "v4", id: 1, ipv6: false, ranges)
        #expect(v4.elements.map(\.key) == [[0, 0, 0, 0], [198, 18, 0, 0], [198, 18, 2, 0]])
        let v6 = NftSet.addresses(name: "v6", id: 2, ipv6: true, ranges)
        #expect(v6.keyFields == [.ipv6Address])
        #expect(v6.elements.count == 3)
        #expect(v6.elements[1].key == [0x20, 0x01, 0, 2] + [UInt8](repeating: 0, count: 12))
        #expect(v6.elements[2].key == [0x20, 0x01, 0, 2, 0, 1] + [UInt8](repeating: 0, count: 10))
        #expect(v6.elements[2].intervalEnd)
        #expect(NftSet.addresses(name: "none", id: 3, ipv6: true, [try cidr("10.0.0.0/8")]).elements.isEmpty)
        #expect(
            NftSet.addresses(name: "all", id: 4, ipv6: false, [try cidr("0.0.0.0/0")]).elements == [
                NftSetElement(key: [0, 0, 0, 0])
            ])
    }

    @Test func portSetsAreSortedBigEndianAndUnique() {
        let set = NftSet.ports(name: "p", id: 1, [8080, 80, 8080])
        #expect(set.elements.map(\.key) == [[0, 80], [0x1F, 0x90]])
        #expect(!set.interval && set.keyFields == [.inetService] && set.keyTypeID == 13 && set.keyLength == 2)
    }

    @Test func outputChainSkipsMarkedSocketsFirstThenRedirectsDNSAndVIPs() {
        var configuration = CaptureConfiguration()
        configuration.socketMark = 0x5745
        let table = CaptureRuleset.table(for: configuration)
        #expect(table.family == .inet && table.name == "weft")
        #expect(table.chains.map(\.name) == ["output", "prerouting"])
        #expect(table.chains.allSatisfy { $0.type == "nat" && $0.priority == -100 })
        let output = table.rules.filter { $0.chain == "output" }.map(\.expressions)
        #expect(output[0] == [.meta(.mark), .compare(.equal, [0x45, 0x57, 0, 0]), .verdict(.return)])
        #expect(
            output[1] == [
                .meta(.l4proto), .compare(.equal, [17]), .payload(.transport, offset: 2, length: 2),
                .lookup(set: "dns_lease", id: 10), .immediate([0x3A, 0xCD]), .redirectToPortInRegister,
            ])
        #expect(
            output.contains {
                $0.contains(.lookup(set: "vip4", id: 1)) && $0.last == .redirectToPortInRegister
                    && $0.contains(.immediate([0x3A, 0x99]))
            })
        // Every lookup names a set of the table, with its id.
        for case .lookup(let name, let id, _) in table.rules.flatMap(\.expressions) {
            #expect(table.sets.first { $0.name == name }?.id == id)
        }
        configuration.captureDNS = false
        let withoutDNS = CaptureRuleset.table(for: configuration)
        #expect(!withoutDNS.rules.flatMap(\.expressions).contains(.immediate([0x3A, 0xCD])))
        #expect(!withoutDNS.sets.contains { $0.name == "dns_lease" })
    }

    @Test func dnsIsCapturedOnlyWhileTheNodeRenewsItsLease() {
        var configuration = CaptureConfiguration()
        configuration.dnsLease = .milliseconds(2500)
        let lease = CaptureRuleset.dnsLease(for: configuration)
        #expect(lease.timeout && !lease.interval && lease.keyFields == [.inetService])
        #expect(lease.elements == [NftSetElement(key: [0, 53], timeout: .milliseconds(2500))])
        #expect(CaptureRuleset.table(for: configuration).sets.contains(lease))
    }

    @Test func meshEndpointsAreCapturedByAddressAndPortNotByPortAlone() throws {
        var configuration = CaptureConfiguration()
        configuration.meshEndpoints = [
            try #require(IPSocketAddress("198.18.0.2:8080")), try #require(IPSocketAddress("[2001:2::2]:8080")),
            try #require(IPSocketAddress("198.18.0.2:8080")),
        ]
        let table = CaptureRuleset.table(for: configuration)
        let v4 = try #require(table.sets.first { $0.name == "endpoints4" })
        #expect(v4.keyFields == [.ipv4Address, .inetService] && v4.keyTypeID == 7 << 6 | 13 && v4.keyLength == 8)
        #expect(v4.elements == [NftSetElement(key: [198, 18, 0, 2, 0x1F, 0x90, 0, 0])])
        let v6 = try #require(table.sets.first { $0.name == "endpoints6" })
        #expect(v6.keyTypeID == 8 << 6 | 13 && v6.keyLength == 20)
        #expect(
            v6.elements == [
                NftSetElement(key: [0x20, 0x01, 0, 2] + [UInt8](repeating: 0, count: 11) + [2, 0x1F, 0x90, 0, 0])
            ])
        let output = table.rules.filter { $0.chain == "output" }.map(\.expressions)
        let endpoints4 = try #require(output.first { $0.contains(.lookup(set: "endpoints4", id: 8, from: .word(0))) })
        #expect(
            endpoints4 == [
                .meta(.nfproto), .compare(.equal, [2]), .payload(.network, offset: 16, length: 4, into: .word(0)),
                .payload(.transport, offset: 2, length: 2, into: .word(1)),
                .lookup(set: "endpoints4", id: 8, from: .word(0)), .immediate([0x3A, 0x99]), .redirectToPortInRegister,
            ])
        #expect(output.contains { $0.contains(.payload(.transport, offset: 2, length: 2, into: .word(4))) })
        // No port is captured at every address unless asked for.
        #expect(table.sets.first { $0.name == "outbound_ports" }?.elements.isEmpty == true)
    }

    @Test func preroutingNeverCapturesLoopbackOrHBONEAndSendsInboundPortsTo15006() {
        var configuration = CaptureConfiguration()
        configuration.inboundPorts = [8080]
        let table = CaptureRuleset.table(for: configuration)
        let prerouting = table.rules.filter { $0.chain == "prerouting" }.map(\.expressions)
        #expect(
            prerouting[0].prefix(2) == [
                .meta(.iifname), .compare(.equal, Array("lo".utf8) + [UInt8](repeating: 0, count: 14)),
            ])
        let hbone = prerouting.firstIndex { $0.contains(.compare(.equal, [0x3A, 0xA0])) }
        let inbound = prerouting.firstIndex { $0.contains(.lookup(set: "inbound_ports", id: 6)) }
        #expect(hbone != nil && inbound != nil && hbone! < inbound!)
        #expect(prerouting[inbound!].suffix(2) == [.immediate([0x3A, 0x9E]), .redirectToPortInRegister])
        #expect(table.sets.first { $0.name == "inbound_ports" }?.elements.map(\.key) == [[0x1F, 0x90]])
    }

    static func changed(_ change: (inout CaptureConfiguration) -> Void) -> CaptureConfiguration {
        var configuration = CaptureConfiguration()
        change(&configuration)
        return configuration
    }

    @Test(arguments: [
        (changed { $0.tableName = "Weft!" }, "table name"),
        (changed { $0.socketMark = 0 }, "mark must not be 0"),
        (changed { $0.outboundPorts = [0] }, "outbound ports contains port 0"),
        (changed { $0.inboundPorts = [15008] }, "inbound ports contains 15008"),
        (changed { $0.outboundPorts = [15001] }, "outbound ports contains 15001"),
        (changed { $0.vipRanges = [IPCIDR(network: .v4(0), prefixLength: 0)] }, "too wide"),
    ])
    func badConfigurationsAreRefusedWithAReason(configuration: CaptureConfiguration, message: String) {
        #expect { try configuration.validate() } throws: { "\($0)".contains(message) }
        #expect(throws: Never.self) { try CaptureConfiguration().validate() }
    }

    @Test func batchIsBeginMessagesEndWithAcksAndElementsSplitIntoChunks() throws {
        var configuration = CaptureConfiguration()
        configuration.outboundPorts = (1...1100).map { UInt16(20000 + $0) }
        let table = CaptureRuleset.table(for: configuration)
        var batch = NetlinkBatch(firstSequence: 100)
        for set in table.sets { batch.addSet(set, table: table) }
        for chain in table.chains { batch.addChain(chain, table: table) }
        for (index, rule) in table.rules.enumerated() { batch.addRule(rule, number: index + 1, table: table) }
        let described = batch.acknowledged
        let buffer = batch.finish()

        var messages: [(type: UInt16, flags: UInt16, seq: UInt32, length: Int)] = []
        buffer.withBytes { bytes in
            var offset = 0
            while offset + 16 <= bytes.count {
                let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
                messages.append(
                    (
                        bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self),
                        bytes.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self),
                        bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self), length
                    ))
                offset += (length + 3) & ~3
            }
            #expect(offset == bytes.count, "messages tile the buffer exactly")
        }
        #expect(messages.first?.type == 0x10 && messages.last?.type == 0x11, "NFNL_MSG_BATCH_BEGIN … END")
        #expect(messages.map(\.seq) == Array(100..<UInt32(100 + messages.count)))
        let inner = messages.dropFirst().dropLast()
        #expect(inner.allSatisfy { $0.flags & 0x4 != 0 }, "every message asks for an ack")
        #expect(described.count == inner.count)
        // 1,100 ports: one NEWSET and three NEWSETELEM messages of at most 512 elements.
        #expect(
            described.values.filter { $0.hasSuffix("of set outbound_ports") }.sorted()
                == [
                    "elements 1-512 of set outbound_ports", "elements 1025-1100 of set outbound_ports",
                    "elements 513-1024 of set outbound_ports",
                ])
        #expect(described.values.contains("rule 1 (chain output)"))
    }
}
