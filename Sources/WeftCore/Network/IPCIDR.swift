/// An address range in CIDR notation, e.g. `240.0.0.0/4` or `2001:2::/48`.
public struct IPCIDR: Hashable, Sendable, CustomStringConvertible {
    /// The first address of the range (host bits are always zero).
    public let network: IPAddress
    public let prefixLength: Int

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case notCIDR(String)
        case hostBitsSet(String)

        public var description: String {
            switch self {
            case .notCIDR(let text):
                return "'\(text)' is not an address range: write it as ADDRESS/PREFIX, e.g. 240.0.0.0/4 or 2001:2::/48"
            case .hostBitsSet(let text):
                return
                    "'\(text)' has host bits set after the prefix: did you mean \(IPCIDR(masking: text).map(\.description) ?? "the network address")?"
            }
        }
    }

    /// Parses `ADDRESS/PREFIX`; a bare address means a single host (/32 or /128). Host bits must be zero.
    public init(_ text: String) throws(ParseError) {
        guard let (address, prefix) = Self.split(text) else { throw .notCIDR(text) }
        let masked = Self.mask(address, prefix)
        guard masked == address else { throw .hostBitsSet(text) }
        self.network = masked
        self.prefixLength = prefix
    }

    public init(network: IPAddress, prefixLength: Int) {
        let prefix = max(0, min(prefixLength, network.bitWidth))
        self.network = Self.mask(network, prefix)
        self.prefixLength = prefix
    }

    private static func split(_ text: String) -> (IPAddress, Int)? {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let address = IPAddress(parts[0]) else { return nil }
        if parts.count == 1 { return (address, address.bitWidth) }
        guard !parts[1].isEmpty, parts[1].allSatisfy(\.isASCIIDigit), let prefix = Int(parts[1]),
            prefix <= address.bitWidth
        else { return nil }
        return (address, prefix)
    }

    private init?(masking text: String) {
        guard let (address, prefix) = Self.split(text) else { return nil }
        self.init(network: address, prefixLength: prefix)
    }

    public var isIPv4: Bool { network.isIPv4 }

    /// The last address of the range.
    public var last: IPAddress {
        switch network {
        case .v4(let v):
            let hostBits = 32 - prefixLength
            return .v4(hostBits == 32 ? UInt32.max : v | ((1 << hostBits) - 1))
        case .v6(let hi, let lo):
            let (mh, ml) = Self.v6Mask(prefixLength)
            return .v6(hi | ~mh, lo | ~ml)
        }
    }

    public func contains(_ address: IPAddress) -> Bool {
        guard address.isIPv4 == isIPv4 else { return false }
        return Self.mask(address, prefixLength) == network
    }

    public var description: String { "\(network)/\(prefixLength)" }

    private static func mask(_ address: IPAddress, _ prefix: Int) -> IPAddress {
        switch address {
        case .v4(let v):
            return .v4(prefix == 0 ? 0 : v & (UInt32.max << (32 - prefix)))
        case .v6(let hi, let lo):
            let (mh, ml) = v6Mask(prefix)
            return .v6(hi & mh, lo & ml)
        }
    }

    private static func v6Mask(_ prefix: Int) -> (UInt64, UInt64) {
        let hi: UInt64 = prefix >= 64 ? .max : (prefix == 0 ? 0 : .max << (64 - prefix))
        let lo: UInt64 = prefix <= 64 ? 0 : (prefix == 128 ? .max : .max << (128 - prefix))
        return (hi, lo)
    }
}

extension IPCIDR: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(text)
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
