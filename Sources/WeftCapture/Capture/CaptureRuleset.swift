import WeftCore

/// Builds the `inet weft` table from a capture configuration.
///
/// ```
/// table inet weft {
///   set vip4 / vip6            { flags interval }   service VIP ranges
///   set excluded4 / excluded6  { flags interval }   destinations never captured
///   set endpoints4 / endpoints6 { type ipv4_addr . inet_service }   mesh endpoints
///   set dns_lease              { flags timeout }    53 while weft-node renews it (3 s)
///   set outbound_ports, inbound_ports, excluded_ports
///   chain output { type nat hook output priority -100
///     meta mark 0x5745 return                      the node's own sockets
///     udp dport @dns_lease redirect to :15053; tcp dport @dns_lease redirect to :15053
///     meta l4proto != tcp return
///     tcp dport @excluded_ports return; ip daddr @excluded4 return; ip6 daddr @excluded6 return
///     ip daddr @vip4 tcp redirect to :15001; ip6 daddr @vip6 tcp redirect to :15001
///     ip daddr . tcp dport @endpoints4 redirect to :15001; ip6 daddr . tcp dport @endpoints6 redirect to :15001
///     tcp dport @outbound_ports redirect to :15001 }
///   chain prerouting { type nat hook prerouting priority -100
///     iifname "lo" return; meta l4proto != tcp return; tcp dport 15008 return
///     tcp dport @excluded_ports return; tcp dport @inbound_ports redirect to :15006 } }
/// ```
public enum CaptureRuleset {
    public static func table(for configuration: CaptureConfiguration) -> NftTable {
        let c = configuration
        let sets =
            [
                NftSet.addresses(name: "vip4", id: 1, ipv6: false, c.vipRanges),
                NftSet.addresses(name: "vip6", id: 2, ipv6: true, c.vipRanges),
                NftSet.addresses(name: "excluded4", id: 3, ipv6: false, c.excludedCIDRs),
                NftSet.addresses(name: "excluded6", id: 4, ipv6: true, c.excludedCIDRs),
                NftSet.ports(name: "outbound_ports", id: 5, c.outboundPorts),
                NftSet.ports(name: "inbound_ports", id: 6, c.inboundPorts),
                NftSet.ports(name: "excluded_ports", id: 7, c.excludedPorts),
                NftSet.socketAddresses(name: "endpoints4", id: 8, ipv6: false, c.meshEndpoints),
                NftSet.socketAddresses(name: "endpoints6", id: 9, ipv6: true, c.meshEndpoints),
            ] + (c.captureDNS ? [dnsLease(for: c)] : [])
        func lookup(_ name: String, from register: NftRegister = .one) -> NftExpression {
            .lookup(set: name, id: sets.first { $0.name == name }!.id, from: register)
        }
        var output: [[NftExpression]] = [
            [.meta(.mark), .compare(.equal, littleEndian(c.socketMark)), .verdict(.return)]
        ]
        if c.captureDNS {
            for proto in [IPProtocol.udp, .tcp] {
                output.append(
                    [.meta(.l4proto), .compare(.equal, [proto.rawValue]), destinationPort(), lookup(dnsLeaseName)]
                        + redirect(to: c.dnsPort))
            }
        }
        output += [
            [.meta(.l4proto), .compare(.notEqual, [IPProtocol.tcp.rawValue]), .verdict(.return)],
            [destinationPort(), lookup("excluded_ports"), .verdict(.return)],
            ipv4Destination() + [lookup("excluded4"), .verdict(.return)],
            ipv6Destination() + [lookup("excluded6"), .verdict(.return)],
            ipv4Destination() + [lookup("vip4")] + redirect(to: c.outboundListenerPort),
            ipv6Destination() + [lookup("vip6")] + redirect(to: c.outboundListenerPort),
            ipv4Destination(into: .word(0)) + [destinationPort(into: .word(1)), lookup("endpoints4", from: .word(0))]
                + redirect(to: c.outboundListenerPort),
            ipv6Destination(into: .word(0)) + [destinationPort(into: .word(4)), lookup("endpoints6", from: .word(0))]
                + redirect(to: c.outboundListenerPort),
            [destinationPort(), lookup("outbound_ports")] + redirect(to: c.outboundListenerPort),
        ]
        let prerouting: [[NftExpression]] = [
            [.meta(.iifname), .compare(.equal, interfaceName("lo")), .verdict(.return)],
            [.meta(.l4proto), .compare(.notEqual, [IPProtocol.tcp.rawValue]), .verdict(.return)],
            destinationPort(equals: c.hbonePort) + [.verdict(.return)],
            [destinationPort(), lookup("excluded_ports"), .verdict(.return)],
            [destinationPort(), lookup("inbound_ports")] + redirect(to: c.inboundListenerPort),
        ]
        return NftTable(
            family: .inet, name: c.tableName, sets: sets,
            chains: [
                NftChain(name: "output", type: "nat", hook: .output, priority: -100),
                NftChain(name: "prerouting", type: "nat", hook: .prerouting, priority: -100),
            ],
            rules: output.map { NftRule(chain: "output", $0) } + prerouting.map { NftRule(chain: "prerouting", $0) })
    }

    /// The table while a stopping node drains: it captures nothing new (new connections flow unmeshed), yet the
    /// connections already redirected keep working. For that each chain keeps one redirect that never matches (TCP
    /// port 0): measured here, once a netns has no redirect expression left, the established redirected flows stop
    /// being translated and hang (an empty NAT chain is not enough).
    public static func drainingTable(for configuration: CaptureConfiguration) -> NftTable {
        let c = configuration
        let never: [NftExpression] =
            [.meta(.l4proto), .compare(.equal, [IPProtocol.tcp.rawValue])] + destinationPort(equals: 0)
        return NftTable(
            family: .inet, name: c.tableName, sets: [],
            chains: [
                NftChain(name: "output", type: "nat", hook: .output, priority: -100),
                NftChain(name: "prerouting", type: "nat", hook: .prerouting, priority: -100),
            ],
            rules: [
                NftRule(chain: "output", never + redirect(to: c.outboundListenerPort)),
                NftRule(chain: "prerouting", never + redirect(to: c.inboundListenerPort)),
            ])
    }

    static let dnsLeaseName = "dns_lease"

    /// The set whose one element, port 53, keeps DNS captured: it expires `dnsLease` after its last renewal.
    public static func dnsLease(for configuration: CaptureConfiguration) -> NftSet {
        NftSet(
            name: dnsLeaseName, id: 10, keyFields: [.inetService], timeout: true,
            elements: [NftSetElement(key: [0, 53], timeout: configuration.dnsLease)])
    }

    private enum IPProtocol: UInt8 {
        case tcp = 6
        case udp = 17
    }

    private static func destinationPort(into register: NftRegister = .one) -> NftExpression {
        .payload(.transport, offset: 2, length: 2, into: register)
    }

    private static func destinationPort(equals port: UInt16) -> [NftExpression] {
        [destinationPort(), .compare(.equal, bigEndian(port))]
    }

    private static func ipv4Destination(into register: NftRegister = .one) -> [NftExpression] {
        [
            .meta(.nfproto), .compare(.equal, [UInt8(NftFamily.ipv4.rawValue)]),
            .payload(.network, offset: 16, length: 4, into: register),
        ]
    }

    private static func ipv6Destination(into register: NftRegister = .one) -> [NftExpression] {
        [
            .meta(.nfproto), .compare(.equal, [UInt8(NftFamily.ipv6.rawValue)]),
            .payload(.network, offset: 24, length: 16, into: register),
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
