import WeftCore

/// Builds the `inet weft` table from a capture configuration.
///
/// ```
/// table inet weft {
///   set vip4 / vip6            { flags interval }   service VIP ranges
///   set excluded4 / excluded6  { flags interval }   destinations never captured
///   set outbound_ports, inbound_ports, excluded_ports
///   chain output { type nat hook output priority -100
///     meta mark 0x5745 return                      the node's own sockets
///     udp dport 53 redirect to :15053; tcp dport 53 redirect to :15053
///     meta l4proto != tcp return
///     tcp dport @excluded_ports return; ip daddr @excluded4 return; ip6 daddr @excluded6 return
///     ip daddr @vip4 tcp redirect to :15001; ip6 daddr @vip6 tcp redirect to :15001
///     tcp dport @outbound_ports redirect to :15001 }
///   chain prerouting { type nat hook prerouting priority -100
///     iifname "lo" return; meta l4proto != tcp return; tcp dport 15008 return
///     tcp dport @excluded_ports return; tcp dport @inbound_ports redirect to :15006 } }
/// ```
public enum CaptureRuleset {
    public static func table(for configuration: CaptureConfiguration) -> NftTable {
        let c = configuration
        let sets = [
            NftSet.addresses(name: "vip4", id: 1, ipv6: false, c.vipRanges),
            NftSet.addresses(name: "vip6", id: 2, ipv6: true, c.vipRanges),
            NftSet.addresses(name: "excluded4", id: 3, ipv6: false, c.excludedCIDRs),
            NftSet.addresses(name: "excluded6", id: 4, ipv6: true, c.excludedCIDRs),
            NftSet.ports(name: "outbound_ports", id: 5, c.outboundPorts),
            NftSet.ports(name: "inbound_ports", id: 6, c.inboundPorts),
            NftSet.ports(name: "excluded_ports", id: 7, c.excludedPorts),
        ]
        func lookup(_ name: String) -> NftExpression {
            .lookup(set: name, id: sets.first { $0.name == name }!.id)
        }
        var output: [[NftExpression]] = [
            [.meta(.mark), .compare(.equal, littleEndian(c.socketMark)), .verdict(.return)]
        ]
        if c.captureDNS {
            for proto in [IPProtocol.udp, .tcp] {
                output.append(
                    [.meta(.l4proto), .compare(.equal, [proto.rawValue])] + destinationPort(equals: 53)
                        + redirect(to: c.dnsPort))
            }
        }
        output += [
            [.meta(.l4proto), .compare(.notEqual, [IPProtocol.tcp.rawValue]), .verdict(.return)],
            destinationPort() + [lookup("excluded_ports"), .verdict(.return)],
            ipv4Destination() + [lookup("excluded4"), .verdict(.return)],
            ipv6Destination() + [lookup("excluded6"), .verdict(.return)],
            ipv4Destination() + [lookup("vip4")] + redirect(to: c.outboundListenerPort),
            ipv6Destination() + [lookup("vip6")] + redirect(to: c.outboundListenerPort),
            destinationPort() + [lookup("outbound_ports")] + redirect(to: c.outboundListenerPort),
        ]
        let prerouting: [[NftExpression]] = [
            [.meta(.iifname), .compare(.equal, interfaceName("lo")), .verdict(.return)],
            [.meta(.l4proto), .compare(.notEqual, [IPProtocol.tcp.rawValue]), .verdict(.return)],
            destinationPort(equals: c.hbonePort) + [.verdict(.return)],
            destinationPort() + [lookup("excluded_ports"), .verdict(.return)],
            destinationPort() + [lookup("inbound_ports")] + redirect(to: c.inboundListenerPort),
        ]
        return NftTable(
            family: .inet, name: c.tableName, sets: sets,
            chains: [
                NftChain(name: "output", type: "nat", hook: .output, priority: -100),
                NftChain(name: "prerouting", type: "nat", hook: .prerouting, priority: -100),
            ],
            rules: output.map { NftRule(chain: "output", $0) } + prerouting.map { NftRule(chain: "prerouting", $0) })
    }

    private enum IPProtocol: UInt8 {
        case tcp = 6
        case udp = 17
    }

    private static func destinationPort() -> [NftExpression] {
        [.payload(.transport, offset: 2, length: 2)]
    }

    private static func destinationPort(equals port: UInt16) -> [NftExpression] {
        destinationPort() + [.compare(.equal, bigEndian(port))]
    }

    private static func ipv4Destination() -> [NftExpression] {
        [
            .meta(.nfproto), .compare(.equal, [UInt8(NftFamily.ipv4.rawValue)]),
            .payload(.network, offset: 16, length: 4),
        ]
    }

    private static func ipv6Destination() -> [NftExpression] {
        [
            .meta(.nfproto), .compare(.equal, [UInt8(NftFamily.ipv6.rawValue)]),
            .payload(.network, offset: 24, length: 16),
        ]
    }

    /// Sets the port register, then redirects; the TCP/UDP match must come before (the kernel checks it).
    private static func redirect(to port: UInt16) -> [NftExpression] {
        [.immediate(bigEndian(port)), .redirectToPortInRegister]
    }

    private static func bigEndian(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }

    /// Meta mark is host byte order (little endian here).
    private static func littleEndian(_ value: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }

    private static func interfaceName(_ name: String) -> [UInt8] {
        Array(name.utf8) + [UInt8](repeating: 0, count: 16 - name.utf8.count)
    }
}
