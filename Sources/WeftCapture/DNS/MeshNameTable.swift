import WeftCore

/// The mesh names the resolver answers, relative to the mesh domain: `backend` answers `backend.weft`,
/// `backend.default` answers `backend.default.weft`. Lookups ignore ASCII case.
public struct MeshNameTable: Hashable, Sendable {
    /// Lower-cased relative name → addresses, in the order given.
    public private(set) var addresses: [String: [IPAddress]]
    /// Lower-cased proper suffixes of the names (e.g. `default` for `backend.default`): they exist, without records.
    private var interiorNames: Set<String>

    public init() {
        addresses = [:]
        interiorNames = []
    }

    /// Builds the table from relative names (a trailing mesh domain is not stripped: give `backend.default`, not
    /// `backend.default.weft`). Names are lower-cased; addresses of duplicate names (after lower-casing) are merged.
    public init(_ names: [String: [IPAddress]]) {
        self.init()
        for (name, list) in names {
            add(name: name, addresses: list)
        }
    }

    /// Adds addresses under a relative name such as `backend` or `backend.default`; duplicates are ignored.
    public mutating func add(name: String, addresses list: [IPAddress]) {
        let key = Self.normalize(name)
        guard !key.isEmpty else { return }
        var current = addresses[key] ?? []
        for address in list where !current.contains(address) {
            current.append(address)
        }
        addresses[key] = current
        var labels = key.split(separator: ".")
        while labels.count > 1 {
            labels.removeFirst()
            interiorNames.insert(labels.joined(separator: "."))
        }
    }

    /// Adds `<service>.<namespace>` and, when `shortName` is true, `<service>`.
    public mutating func add(service: String, namespace: String, addresses list: [IPAddress], shortName: Bool) {
        add(name: "\(service).\(namespace)", addresses: list)
        if shortName { add(name: service, addresses: list) }
    }

    public enum Lookup: Hashable, Sendable {
        /// The name exists with these addresses (possibly none of the family asked for).
        case found([IPAddress])
        /// The name exists only as a parent of other names: no records of any type.
        case emptyNonTerminal
        case notFound
    }

    /// Looks up a relative name (labels joined by dots, any case).
    public func lookup(_ relativeName: String) -> Lookup {
        let key = Self.normalize(relativeName)
        if key.isEmpty { return .emptyNonTerminal }
        if let list = addresses[key] { return .found(list) }
        return interiorNames.contains(key) ? .emptyNonTerminal : .notFound
    }

    public var count: Int { addresses.count }

    private static func normalize(_ name: String) -> String {
        var text = Substring(name)
        while text.hasSuffix(".") { text = text.dropLast() }
        return String(text.map { $0.isASCII ? Character($0.lowercased()) : $0 })
    }
}
