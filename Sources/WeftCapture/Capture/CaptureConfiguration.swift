import WeftCore

/// What the node captures, and where captured traffic goes.
public struct CaptureConfiguration: Sendable, Equatable {
    /// The `inet` table Weft owns; nothing else is touched.
    public var tableName = "weft"
    /// Connections to these ranges (service VIPs) go to the outbound listener.
    public var vipRanges: [IPCIDR] = [NodeConfig.defaultVIPRange]
    /// Connections to these mesh endpoints (`address . port`) go to the outbound listener.
    public var meshEndpoints: [IPSocketAddress] = []
    /// Connections to these ports, at any address, go to the outbound listener (only when asked for: it takes every
    /// host's traffic to that port).
    public var outboundPorts: [UInt16] = []
    /// Connections from other hosts to these ports go to the inbound plaintext listener.
    public var inboundPorts: [UInt16] = []
    /// Never captured, in either direction (ssh by default).
    public var excludedPorts: [UInt16] = [22]
    /// Destinations never captured outbound (loopback by default; add the control plane's address).
    public var excludedCIDRs: [IPCIDR] = [
        IPCIDR(network: .v4(0x7F00_0000), prefixLength: 8), IPCIDR(network: IPAddress("::1")!, prefixLength: 128),
    ]
    /// Send local DNS (UDP and TCP port 53) to the node's resolver, for as long as the node renews the DNS lease.
    public var captureDNS = true
    /// How long DNS stays captured without a renewal: once weft-node stops or dies, the host's own resolvers answer
    /// again within this time.
    public var dnsLease: Duration = .seconds(3)
    public var outboundListenerPort = WeftPort.outboundCapture.rawValue
    public var inboundListenerPort = WeftPort.inboundPlaintext.rawValue
    public var hbonePort = WeftPort.hbone.rawValue
    public var dnsPort = WeftPort.dns.rawValue
    /// SO_MARK of the node's own sockets; the rules let them pass.
    public var socketMark: UInt32 = CaptureConfiguration.defaultSocketMark

    public static let defaultSocketMark: UInt32 = 0x5745

    public init() {}

    public enum Error: Swift.Error, Equatable, CustomStringConvertible {
        case invalidTableName(String)
        case zeroMark
        case portZero(list: String)
        case capturesNodePort(list: String, port: UInt16)
        case emptyVIPRange(IPCIDR)

        public var description: String {
            switch self {
            case .invalidTableName(let name):
                return "capture table name '\(name)' is not valid: use 1-32 characters of [a-z0-9_]"
            case .zeroMark:
                return "capture socket mark must not be 0: the rules would skip every unmarked socket"
            case .portZero(let list):
                return "\(list) contains port 0: give ports from 1 to 65535"
            case .capturesNodePort(let list, let port):
                return
                    "\(list) contains \(port), one of the node's own ports (15001, 15006, 15008, 15053, 15020): capturing it would loop or break the mesh"
            case .emptyVIPRange(let range):
                return "VIP range \(range) is too wide to be a VIP range (use a prefix of at least /1)"
            }
        }
    }

    /// The node's listener ports, never captured.
    public var nodePorts: Set<UInt16> {
        [outboundListenerPort, inboundListenerPort, hbonePort, dnsPort, WeftPort.nodeAdmin.rawValue]
    }

    public func validate() throws(Error) {
        guard !tableName.isEmpty, tableName.count <= 32,
            tableName.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") })
        else { throw .invalidTableName(tableName) }
        guard socketMark != 0 else { throw .zeroMark }
        for (list, ports) in [
            ("outbound ports", outboundPorts), ("inbound ports", inboundPorts), ("excluded ports", excludedPorts),
        ] {
            if ports.contains(0) { throw .portZero(list: list) }
        }
        for (list, ports) in [("outbound ports", outboundPorts), ("inbound ports", inboundPorts)] {
            if let port = ports.first(where: nodePorts.contains) { throw .capturesNodePort(list: list, port: port) }
        }
        if let range = vipRanges.first(where: { $0.prefixLength == 0 }) { throw .emptyVIPRange(range) }
    }
}
