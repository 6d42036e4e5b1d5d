/// A service name within a namespace.
public struct ServiceName: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String = "default", name: String) {
        self.namespace = namespace
        self.name = name
    }

    /// Parses `name` (namespace `default`) or `namespace/name`; both parts must be DNS labels.
    public init(parsing text: String) throws(DNSLabel.ValidationError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2 {
            try DNSLabel.validate(parts[0])
            try DNSLabel.validate(parts[1])
            self.init(namespace: parts[0], name: parts[1])
        } else {
            try DNSLabel.validate(text)
            self.init(name: text)
        }
    }

    /// `name` in the default namespace, `namespace/name` elsewhere.
    public var description: String { namespace == "default" ? name : "\(namespace)/\(name)" }

    public static func < (lhs: ServiceName, rhs: ServiceName) -> Bool {
        (lhs.namespace, lhs.name) < (rhs.namespace, rhs.name)
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

/// One side of an intention: a service, or `*` for every service.
public enum ServiceSelector: Sendable, Hashable, Codable, CustomStringConvertible {
    case any
    case service(ServiceName)

    public init(parsing text: String) throws(DNSLabel.ValidationError) {
        self = text == "*" ? .any : .service(try ServiceName(parsing: text))
    }

    public func matches(_ service: ServiceName) -> Bool {
        switch self {
        case .any: return true
        case .service(let name): return name == service
        }
    }

    public var isExact: Bool { self != .any }

    public var description: String {
        switch self {
        case .any: return "*"
        case .service(let name): return name.description
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

public enum IntentionAction: String, Sendable, Codable, CaseIterable {
    case allow
    case deny
}

/// Who may call whom: one rule per (source, destination) pair.
///
/// Without `permissions` the action applies to whole connections. With `permissions` the decision is made per
/// request by the L7 proxy; at L4 such an intention lets connections through so that requests can be judged.
public struct Intention: Sendable, Hashable, Codable {
    public var source: ServiceSelector
    public var destination: ServiceSelector
    public var action: IntentionAction
    public var permissions: [L7Permission]
    public var description: String?

    public init(
        source: ServiceSelector, destination: ServiceSelector, action: IntentionAction,
        permissions: [L7Permission] = [], description: String? = nil
    ) {
        self.source = source
        self.destination = destination
        self.action = action
        self.permissions = permissions
        self.description = description
    }

    /// `source>destination`, unique in the mesh; the key under which the intention is stored.
    public var key: String { "\(source)>\(destination)" }

    /// 3 for exact → exact, 2 for `*` → exact, 1 for exact → `*`, 0 for `*` → `*`: a more specific destination
    /// weighs more than a more specific source.
    public var precedence: Int { (destination.isExact ? 2 : 0) + (source.isExact ? 1 : 0) }

    enum CodingKeys: String, CodingKey {
        case source, destination, action, permissions, description
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        source = try c.decode(ServiceSelector.self, forKey: .source)
        destination = try c.decode(ServiceSelector.self, forKey: .destination)
        action = try c.decode(IntentionAction.self, forKey: .action)
        permissions = try c.decodeIfPresent([L7Permission].self, forKey: .permissions) ?? []
        description = try c.decodeIfPresent(String.self, forKey: .description)
    }
}

/// A request-level rule inside an intention, judged by the L7 proxy.
public struct L7Permission: Sendable, Hashable, Codable {
    public var action: IntentionAction
    /// Upper-case methods; empty matches every method.
    public var methods: [String]
    public var pathExact: String?
    public var pathPrefix: String?
    public var headers: [HeaderCondition]

    public init(
        action: IntentionAction, methods: [String] = [], pathExact: String? = nil, pathPrefix: String? = nil,
        headers: [HeaderCondition] = []
    ) {
        self.action = action
        self.methods = methods
        self.pathExact = pathExact
        self.pathPrefix = pathPrefix
        self.headers = headers
    }

    enum CodingKeys: String, CodingKey {
        case action, methods, headers
        case pathExact = "path_exact"
        case pathPrefix = "path_prefix"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        action = try c.decode(IntentionAction.self, forKey: .action)
        methods = try c.decodeIfPresent([String].self, forKey: .methods) ?? []
        pathExact = try c.decodeIfPresent(String.self, forKey: .pathExact)
        pathPrefix = try c.decodeIfPresent(String.self, forKey: .pathPrefix)
        headers = try c.decodeIfPresent([HeaderCondition].self, forKey: .headers) ?? []
    }

    public func matches(_ request: L7Request) -> Bool {
        if !methods.isEmpty, !methods.contains(request.method.uppercased()) { return false }
        if let pathExact, request.path != pathExact { return false }
        if let pathPrefix, !request.path.hasPrefix(pathPrefix) { return false }
        return headers.allSatisfy { $0.matches(request) }
    }
}

/// A header test: present, equal to a value, or starting with a prefix. Names compare case-insensitively.
public struct HeaderCondition: Sendable, Hashable, Codable {
    public var name: String
    public var exact: String?
    public var prefix: String?
    /// When set, requires the header to be present (true) or absent (false).
    public var present: Bool?

    public init(name: String, exact: String? = nil, prefix: String? = nil, present: Bool? = nil) {
        self.name = name
        self.exact = exact
        self.prefix = prefix
        self.present = present
    }

    public func matches(_ request: L7Request) -> Bool {
        let value = request.headers.first { $0.name.lowercased() == name.lowercased() }?.value
        if let present, present != (value != nil) { return false }
        if let exact, value != exact { return false }
        if let prefix, !(value?.hasPrefix(prefix) ?? false) { return false }
        return true
    }
}

/// The parts of an HTTP request that L7 permissions look at.
public struct L7Request: Sendable, Hashable {
    public var method: String
    public var path: String
    public var headers: [(name: String, value: String)]

    public init(method: String, path: String, headers: [(name: String, value: String)] = []) {
        self.method = method
        self.path = path
        self.headers = headers
    }

    public static func == (lhs: L7Request, rhs: L7Request) -> Bool {
        lhs.method == rhs.method && lhs.path == rhs.path
            && lhs.headers.map(\.name) == rhs.headers.map(\.name)
            && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(method)
        hasher.combine(path)
        for header in headers {
            hasher.combine(header.name)
            hasher.combine(header.value)
        }
    }
}
