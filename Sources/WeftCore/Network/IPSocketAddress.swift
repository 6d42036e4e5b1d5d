/// An IP address and a TCP or UDP port.
public struct IPSocketAddress: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses `198.18.0.1:80` or `[2001:2::1]:80`.
    public init?(_ text: String) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"),
                let address = IPAddress(text[text.index(after: text.startIndex)..<close]), !address.isIPv4
            else { return nil }
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()) else { return nil }
            self.init(address: address, port: port)
        } else {
            guard let colon = text.lastIndex(of: ":"), let address = IPAddress(text[..<colon]), address.isIPv4,
                let port = UInt16(text[text.index(after: colon)...])
            else { return nil }
            self.init(address: address, port: port)
        }
    }

    /// Why a text is not `ADDRESS:PORT`.
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var text: String

        public var description: String {
            "'\(text)' is not ADDRESS:PORT (e.g. 198.18.0.1:15012 or [2001:2::1]:15012)"
        }
    }

    /// Parses `198.18.0.1:80` or `[2001:2::1]:80`, saying what is wrong otherwise.
    public init(parsing text: String) throws(ParseError) {
        guard let parsed = IPSocketAddress(text) else { throw ParseError(text: text) }
        self = parsed
    }

    /// `198.18.0.1:80` or `[2001:2::1]:80`.
    public var description: String {
        address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }
}

extension IPSocketAddress: Codable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = IPSocketAddress(text) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath, debugDescription: "'\(text)' is not address:port or [address]:port")
            )
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension [IPSocketAddress] {
    /// 127.0.0.1 and, where the host has IPv6, ::1 at `port`.
    public static func loopback(port: UInt16, ipv6: Bool = IPStack.hasIPv6) -> [IPSocketAddress] {
        [IPSocketAddress(address: .v4(0x7F00_0001), port: port)]
            + (ipv6 ? [IPSocketAddress(address: .v6(0, 1), port: port)] : [])
    }

    /// 0.0.0.0 and, where the host has IPv6, :: at `port`.
    public static func anyAddress(port: UInt16, ipv6: Bool = IPStack.hasIPv6) -> [IPSocketAddress] {
        [IPSocketAddress(address: .v4(0), port: port)] + (ipv6 ? [IPSocketAddress(address: .v6(0, 0), port: port)] : [])
    }
}
