/// A SPIFFE ID as Weft uses them: `spiffe://<trust domain>/ns/<namespace>/svc/<service>` for workloads and
/// `spiffe://<trust domain>/node/<node>` for nodes.
public struct SPIFFEID: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case workload(namespace: String, service: String)
        case node(String)
    }

    public var trustDomain: String
    public var kind: Kind

    public init(trustDomain: String, kind: Kind) {
        self.trustDomain = trustDomain
        self.kind = kind
    }

    public static func workload(trustDomain: String, namespace: String = "default", service: String) -> SPIFFEID {
        SPIFFEID(trustDomain: trustDomain, kind: .workload(namespace: namespace, service: service))
    }

    public static func node(trustDomain: String, name: String) -> SPIFFEID {
        SPIFFEID(trustDomain: trustDomain, kind: .node(name))
    }

    public static let defaultTrustDomain = "weft.local"

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case notSPIFFE(String)
        case invalidTrustDomain(String)
        case unknownPath(String)

        public var description: String {
            switch self {
            case .notSPIFFE(let uri): return "'\(uri)' is not a spiffe:// URI"
            case .invalidTrustDomain(let uri): return "'\(uri)' has no valid trust domain"
            case .unknownPath(let uri):
                return "'\(uri)' is neither spiffe://<td>/ns/<namespace>/svc/<service> nor spiffe://<td>/node/<node>"
            }
        }
    }

    /// Parses a Weft SPIFFE ID; path segments must be DNS labels and the trust domain lowercase.
    public init(parsing uri: String) throws(ParseError) {
        let prefix = "spiffe://"
        guard uri.hasPrefix(prefix) else { throw .notSPIFFE(uri) }
        let rest = uri.dropFirst(prefix.count)
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard let domain = parts.first, Self.isValidTrustDomain(domain) else { throw .invalidTrustDomain(uri) }
        let path = Array(parts.dropFirst())
        if path.count == 4, path[0] == "ns", path[2] == "svc", DNSLabel.isValid(path[1]), DNSLabel.isValid(path[3]) {
            self.init(trustDomain: domain, kind: .workload(namespace: path[1], service: path[3]))
        } else if path.count == 2, path[0] == "node", DNSLabel.isValid(path[1]) {
            self.init(trustDomain: domain, kind: .node(path[1]))
        } else {
            throw .unknownPath(uri)
        }
    }

    /// Lowercase letters, digits, '-', '.' and '_', as the SPIFFE spec allows, non-empty.
    public static func isValidTrustDomain(_ domain: String) -> Bool {
        !domain.isEmpty && domain.utf8.count <= 255
            && domain.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F
            }
    }

    public var description: String {
        switch kind {
        case .workload(let namespace, let service): return "spiffe://\(trustDomain)/ns/\(namespace)/svc/\(service)"
        case .node(let name): return "spiffe://\(trustDomain)/node/\(name)"
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
