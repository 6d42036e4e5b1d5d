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
    /// Loads `length` bytes at `offset` of a header into a register (register 1 unless a concatenation is built).
    case payload(PayloadBase, offset: UInt32, length: UInt32, into: NftRegister = .one)
    /// Matches when the key starting at the register is in the set.
    case lookup(set: String, id: UInt32, from: NftRegister = .one)
    /// Stores `data` in register 1.
    case immediate([UInt8])
    case verdict(Verdict)
    /// Redirects to the local port held in register 1.
    case redirectToPortInRegister
}

/// Where an expression puts or reads its data: the 16-byte register 1, or a 4-byte register, in which the fields of
/// a concatenated key are loaded one after another (each field padded to 4 bytes).
public enum NftRegister: Sendable, Equatable {
    case one
    /// The 4-byte register `NFT_REG32_00 + index`.
    case word(UInt32)

    var number: UInt32 {
        switch self {
        case .one: 1
        case .word(let index): 8 + index
        }
    }
}

/// A named set of keys, or of ranges when `interval` is set. A key of several fields is a concatenation
/// (`ipv4_addr . inet_service`).
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
    public var keyFields: [KeyType]
    public var interval: Bool
    /// Elements may carry a timeout, after which the kernel removes them.
    public var timeout: Bool
    public var elements: [NftSetElement]

    public init(
        name: String, id: UInt32, keyFields: [KeyType], interval: Bool = false, timeout: Bool = false,
        elements: [NftSetElement]
    ) {
        self.name = name
        self.id = id
        self.keyFields = keyFields
        self.interval = interval
        self.timeout = timeout
        self.elements = elements
    }

    /// The key's type as the kernel stores it: a concatenation packs its fields' types 6 bits each, as `nft` does.
    var keyTypeID: UInt32 {
        keyFields.reduce(0) { $0 << 6 | $1.rawValue }
    }

    /// The key's length: a field alone has its own length, fields of a concatenation take whole 4-byte registers.
    var keyLength: UInt32 {
        keyFields.count == 1 ? keyFields[0].length : keyFields.reduce(0) { $0 + ($1.length + 3) / 4 * 4 }
    }

    /// A set of ports (network byte order), without duplicates.
    public static func ports(name: String, id: UInt32, _ ports: some Sequence<UInt16>) -> NftSet {
        let elements = Set(ports).sorted().map { NftSetElement(key: portBytes($0)) }
        return NftSet(name: name, id: id, keyFields: [.inetService], elements: elements)
    }

    /// A set of `address . port` keys of one family (`ipv4_addr . inet_service` or `ipv6_addr . inet_service`),
    /// without duplicates; the port is padded to its 4-byte register.
    public static func socketAddresses(
        name: String, id: UInt32, ipv6: Bool, _ addresses: some Sequence<IPSocketAddress>
    )
        -> NftSet
    {
        let elements = Set(addresses.filter { $0.address.isIPv4 != ipv6 }).sorted {
            ($0.address, $0.port) < ($1.address, $1.port)
        }
        .map { NftSetElement(key: $0.address.bytes + portBytes($0.port) + [0, 0]) }
        return NftSet(
            name: name, id: id, keyFields: [ipv6 ? .ipv6Address : .ipv4Address, .inetService], elements: elements)
    }

    private static func portBytes(_ port: UInt16) -> [UInt8] {
        [UInt8(port >> 8), UInt8(port & 0xFF)]
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
            name: name, id: id, keyFields: [ipv6 ? .ipv6Address : .ipv4Address], interval: true, elements: elements)
    }
}

public struct NftSetElement: Sendable, Equatable {
    public var key: [UInt8]
    /// Marks the first key after a range in an interval set.
    public var intervalEnd: Bool
    /// How long the element lives (in a set with `timeout`); nil: until it is deleted.
    public var timeout: Duration?

    public init(key: [UInt8], intervalEnd: Bool = false, timeout: Duration? = nil) {
        self.key = key
        self.intervalEnd = intervalEnd
        self.timeout = timeout
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
