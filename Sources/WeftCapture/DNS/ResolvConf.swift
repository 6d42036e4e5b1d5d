import Logging
import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The `nameserver` entries of a resolv.conf file (resolv.conf(5)); every other keyword is ignored.
public struct ResolvConf: Hashable, Sendable {
    /// Name servers in file order, all on port 53.
    public var nameservers: [IPSocketAddress]
    /// One message per `nameserver` line that could not be used.
    public var warnings: [String]

    public init(nameservers: [IPSocketAddress], warnings: [String] = []) {
        self.nameservers = nameservers
        self.warnings = warnings
    }

    public static let defaultPath = "/etc/resolv.conf"
    public static let port: UInt16 = 53

    /// Parses resolv.conf text. Malformed `nameserver` lines (no address, not an IP address, extra words, IPv6
    /// zone indexes) become warnings; duplicates are dropped.
    public static func parse(_ text: String) -> ResolvConf {
        var result = ResolvConf(nameservers: [])
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if let comment = line.firstIndex(where: { $0 == "#" || $0 == ";" }) {
                line = line[..<comment]
            }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard words.first == "nameserver" else { continue }
            guard words.count == 2 else {
                result.warnings.append(
                    "resolv.conf line \(index + 1): expected 'nameserver ADDRESS', got '\(line.trimmingSpaces())'"
                )
                continue
            }
            guard let address = IPAddress(words[1]) else {
                result.warnings.append(
                    "resolv.conf line \(index + 1): '\(words[1])' is not an IPv4 or IPv6 address (zone indexes are not supported)"
                )
                continue
            }
            let server = IPSocketAddress(address: address, port: port)
            if !result.nameservers.contains(server) {
                result.nameservers.append(server)
            }
        }
        return result
    }

    /// Reads and parses a resolv.conf file, logging each warning. A missing or unreadable file gives no name servers
    /// and a warning.
    public static func load(path: String = defaultPath, logger: Logger) -> ResolvConf {
        guard let data = FileManager.default.contents(atPath: path) else {
            let warning = "cannot read \(path): DNS names outside the mesh will not resolve"
            logger.warning("\(warning)")
            return ResolvConf(nameservers: [], warnings: [warning])
        }
        let conf = parse(String(decoding: data, as: UTF8.self))
        for warning in conf.warnings {
            logger.warning("\(warning)", metadata: ["path": "\(path)"])
        }
        return conf
    }

    /// The name servers except those that are one of `listenAddresses` (forwarding to ourselves would loop).
    /// A wildcard listen address (0.0.0.0 or ::) excludes every server of its family on its port.
    public func upstreams(excluding listenAddresses: [IPSocketAddress]) -> [IPSocketAddress] {
        nameservers.filter { !Self.isOwnAddress($0, listenAddresses) }
    }

    static func isOwnAddress(_ server: IPSocketAddress, _ listenAddresses: [IPSocketAddress]) -> Bool {
        listenAddresses.contains { listen in
            guard listen.port == server.port else { return false }
            if listen.address == server.address { return true }
            return listen.address.isIPv4 == server.address.isIPv4
                && (listen.address == .v4(0) || listen.address == .v6(0, 0))
        }
    }
}
