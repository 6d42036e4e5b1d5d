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
