import WeftCore

/// An nftables table as Weft writes it: what one netlink batch creates. Values in the kernel's terms, so a rule
/// reads like `nft --debug=netlink` prints it.
public struct NftTable: Sendable, Equatable {
    public var family: NftFamily
    public var name: String
    public var sets: [NftSet]
    public var chains: [NftChain]
    public var rules: [NftRule]

    public init(family: NftFamily, name: String, sets: [NftSet] = [], chains: [NftChain] = [], rules: [NftRule] = []) {
        self.family = family
        self.name = name
        self.sets = sets
        self.chains = chains
        self.rules = rules
    }
}

public enum NftFamily: UInt16, Sendable {
    case inet = 1
    case ipv4 = 2
    case ipv6 = 10
}

/// A base chain hooked into netfilter.
public struct NftChain: Sendable, Equatable {
    public enum Hook: UInt32, Sendable {
        case prerouting = 0
        case input = 1
        case forward = 2
        case output = 3
        case postrouting = 4
    }

    public var name: String
    public var type: String
    public var hook: Hook
    public var priority: Int32

    public init(name: String, type: String, hook: Hook, priority: Int32) {
        self.name = name
        self.type = type
        self.hook = hook
        self.priority = priority
    }
}

public struct NftRule: Sendable, Equatable {
    public var chain: String
    public var expressions: [NftExpression]

    public init(chain: String, _ expressions: [NftExpression]) {
        self.chain = chain
        self.expressions = expressions
    }
}

/// The expressions Weft's rules use.
public enum NftExpression: Sendable, Equatable {
    public enum MetaKey: UInt32, Sendable {
        case mark = 3
        case iifname = 6
        case nfproto = 15
        case l4proto = 16
    }

    public enum PayloadBase: UInt32, Sendable {
        case network = 1
        case transport = 2
    }

    public enum Comparison: UInt32, Sendable {
        case equal = 0
        case notEqual = 1
    }

    public enum Verdict: Int32, Sendable {
        case accept = 1
        case drop = 0
        case `return` = -5
    }

    /// Loads packet metadata into register 1.
    case meta(MetaKey)
    /// Compares register 1 with `data`.
    case compare(Comparison, [UInt8])
    /// Loads `length` bytes at `offset` of a header into register 1.
    case payload(PayloadBase, offset: UInt32, length: UInt32)
    /// Matches when register 1 is in the set.
    case lookup(set: String, id: UInt32)
    /// Stores `data` in register 1.
    case immediate([UInt8])
    case verdict(Verdict)
    /// Redirects to the local port held in register 1.
    case redirectToPortInRegister
}

/// A named set of keys, or of ranges when `interval` is set.
public struct NftSet: Sendable, Equatable {
    public enum KeyType: UInt32, Sendable {
        case ipv4Address = 7
        case ipv6Address = 8
        case inetService = 13

        var length: UInt32 {
            switch self {
            case .ipv4Address: 4
            case .ipv6Address: 16
            case .inetService: 2
            }
        }
    }

    public var name: String
    /// Ties lookups to the set within one batch.
    public var id: UInt32
    public var keyType: KeyType
    public var interval: Bool
    public var elements: [NftSetElement]

    public init(name: String, id: UInt32, keyType: KeyType, interval: Bool, elements: [NftSetElement]) {
        self.name = name
        self.id = id
        self.keyType = keyType
        self.interval = interval
        self.elements = elements
    }

    /// A set of ports (network byte order), without duplicates.
    public static func ports(name: String, id: UInt32, _ ports: some Sequence<UInt16>) -> NftSet {
        let elements = Set(ports).sorted().map { NftSetElement(key: [UInt8($0 >> 8), UInt8($0 & 0xFF)]) }
        return NftSet(name: name, id: id, keyType: .inetService, interval: false, elements: elements)
    }

    /// An interval set of addresses of one family. Overlapping and adjacent ranges are merged; each range becomes
    /// a start element and an end element one past its last address (none when the range reaches the top), after
    /// a leading end element at 0, as `nft` writes them.
    public static func addresses(name: String, id: UInt32, ipv6: Bool, _ ranges: [IPCIDR]) -> NftSet {
        let width = ipv6 ? 16 : 4
        var spans: [(first: UInt128, last: UInt128)] = ranges.filter { $0.isIPv4 != ipv6 }
            .map { (UInt128(bigEndianBytes: $0.network.bytes), UInt128(bigEndianBytes: $0.last.bytes)) }
            .sorted { $0.first < $1.first }
        var merged: [(first: UInt128, last: UInt128)] = []
        for span in spans {
            if let previous = merged.last, previous.last == UInt128.max || span.first <= previous.last + 1 {
                merged[merged.count - 1].last = max(previous.last, span.last)
            } else {
                merged.append(span)
            }
        }
        spans = merged
        let top: UInt128 = ipv6 ? .max : UInt128(UInt32.max)
        var elements: [NftSetElement] = []
        if let first = spans.first, first.first != 0 {
            elements.append(NftSetElement(key: [UInt8](repeating: 0, count: width), intervalEnd: true))
        }
        for span in spans {
            elements.append(NftSetElement(key: span.first.bigEndianBytes(width)))
            if span.last != top {
                elements.append(NftSetElement(key: (span.last + 1).bigEndianBytes(width), intervalEnd: true))
            }
        }
        return NftSet(
            name: name, id: id, keyType: ipv6 ? .ipv6Address : .ipv4Address, interval: true, elements: elements)
    }
}

public struct NftSetElement: Sendable, Equatable {
    public var key: [UInt8]
    /// Marks the first key after a range in an interval set.
    public var intervalEnd: Bool

    public init(key: [UInt8], intervalEnd: Bool = false) {
        self.key = key
        self.intervalEnd = intervalEnd
    }
}

extension UInt128 {
    init(bigEndianBytes bytes: [UInt8]) {
        self = bytes.reduce(0) { $0 << 8 | UInt128($1) }
    }

    func bigEndianBytes(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: self >> (8 * UInt128(count - 1 - $0))) }
    }
}
