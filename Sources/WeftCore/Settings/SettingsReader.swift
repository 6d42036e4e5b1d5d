/// Reads typed settings from one TOML table, so every settings file is a short list of keys and every mistake reads
/// `file:line: key: problem`.
///
/// Each accessor returns nil for an absent key and throws when the key is there with the wrong type or value; every
/// key asked for counts as known, and `finish()` refuses the keys that were never asked for, so a typo never
/// silently does nothing.
///
/// ```swift
/// var reader = try SettingsReader(parsing: text, file: path)
/// nodeName = try reader.string("node_name") ?? nodeName
/// drainTimeout = try reader.duration("drain_timeout") ?? drainTimeout
/// try reader.finish()
/// ```
public struct SettingsReader: Sendable {
    public let table: TOMLTable
    /// The file the table came from, for error messages.
    public let file: String
    /// Prepended to keys in error messages: `labels.` for the keys of a `[labels]` table.
    private let keyPrefix: String
    private var known: [String] = []

    /// Reads `table`, found in `file`; `keyPrefix` names a nested table in messages (`labels.`).
    public init(_ table: TOMLTable, file: String, keyPrefix: String = "") {
        self.table = table
        self.file = file
        self.keyPrefix = keyPrefix
    }

    /// Parses `text`; a syntax error becomes a `SettingsError` with the line.
    public init(parsing text: String, file: String) throws(SettingsError) {
        do {
            self.init(try TOML.parse(text), file: file)
        } catch {
            throw SettingsError(file: file, error)
        }
    }

    /// Whether the file sets `key` (without reading it).
    public func contains(_ key: String) -> Bool { table[key] != nil }

    /// An error about `key`, at the line it was written on.
    public func error(_ key: String, _ problem: String) -> SettingsError {
        SettingsError(file: file, line: table.line(of: key) ?? table.line, key: keyPrefix + key, problem: problem)
    }

    /// The error for a required key the file does not set.
    public func missing(_ key: String) -> SettingsError {
        SettingsError(file: file, line: table.line, problem: "'\(keyPrefix + key)' is required")
    }

    /// Refuses the first key (in file order) that no accessor asked for, naming the known ones.
    public func finish() throws(SettingsError) {
        let knownSet = Set(known)
        guard let unknown = table.keys.first(where: { !knownSet.contains($0) }) else { return }
        var problem = "unknown setting"
        if let suggestion = Self.closest(to: unknown, among: known) { problem += "; did you mean \(suggestion)?" }
        throw error(unknown, problem + " (known: \(known.joined(separator: ", ")))")
    }

    // MARK: accessors

    /// The raw value, for shapes the typed accessors do not cover.
    public mutating func value(_ key: String) -> TOMLValue? {
        if !known.contains(key) { known.append(key) }
        return table[key]
    }

    public mutating func string(_ key: String) throws(SettingsError) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value.string else { throw error(key, "must be a string, not \(Self.describe(value))") }
        return text
    }

    public mutating func strings(_ key: String) throws(SettingsError) -> [String]? {
        try list(key, of: "strings") { item throws(Problem) in
            guard let text = item.string else { throw Problem("must be a list of strings, not \(Self.describe(item))") }
            return text
        }
    }

    public mutating func boolean(_ key: String) throws(SettingsError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard let flag = value.boolean else { throw error(key, "must be true or false, not \(Self.describe(value))") }
        return flag
    }

    /// A whole number that fits `type` and lies in `range` (all of `type` when nil).
    public mutating func integer<Integer: FixedWidthInteger>(
        _ key: String, as type: Integer.Type, in range: ClosedRange<Integer>? = nil
    ) throws(SettingsError) -> Integer? {
        guard let value = value(key) else { return nil }
        let range = range ?? Integer.min...Integer.max
        guard let number = value.integer, let exact = Integer(exactly: number), range.contains(exact) else {
            throw error(key, "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return exact
    }

    /// One of an enum's raw values, e.g. `protocol = "http"`.
    public mutating func choice<Choice: RawRepresentable & CaseIterable>(
        _ key: String, as type: Choice.Type
    ) throws(SettingsError) -> Choice? where Choice.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let choice = Choice(rawValue: text) else {
            let names = Choice.allCases.map(\.rawValue).joined(separator: ", ")
            throw error(key, "'\(text)' is not one of \(names)")
        }
        return choice
    }

    /// `90s`, `5m`, `1h30m`, … (see `DurationText`).
    public mutating func duration(_ key: String) throws(SettingsError) -> Duration? {
        guard let text = try string(key) else { return nil }
        do { return try DurationText.parse(text) } catch { throw self.error(key, error.description) }
    }

    /// `ADDRESS:PORT`, e.g. `198.18.0.1:15012` or `[2001:2::1]:15012`.
    public mutating func socketAddress(_ key: String) throws(SettingsError) -> IPSocketAddress? {
        guard let text = try string(key) else { return nil }
        do { return try IPSocketAddress(parsing: text) } catch { throw self.error(key, error.description) }
    }

    public mutating func socketAddresses(_ key: String) throws(SettingsError) -> [IPSocketAddress]? {
        try list(key, of: "ADDRESS:PORT strings") { item throws(Problem) in
            guard let text = item.string else { throw Problem("must be a list of strings, not \(Self.describe(item))") }
            do throws(IPSocketAddress.ParseError) {
                return try IPSocketAddress(parsing: text)
            } catch {
                throw Problem(error.description)
            }
        }
    }

    public mutating func ipAddresses(_ key: String) throws(SettingsError) -> [IPAddress]? {
        try list(key, of: "IP address strings") { item throws(Problem) in
            guard let text = item.string else { throw Problem("must be a list of strings, not \(Self.describe(item))") }
            guard let address = IPAddress(text) else { throw Problem("'\(text)' is not an IP address") }
            return address
        }
    }

    /// `ADDRESS/PREFIX`, e.g. `240.0.0.0/4`.
    public mutating func cidr(_ key: String) throws(SettingsError) -> IPCIDR? {
        guard let text = try string(key) else { return nil }
        do { return try IPCIDR(text) } catch { throw self.error(key, error.description) }
    }

    public mutating func cidrs(_ key: String) throws(SettingsError) -> [IPCIDR]? {
        try list(key, of: "ADDRESS/PREFIX strings") { item throws(Problem) in
            guard let text = item.string else { throw Problem("must be a list of strings, not \(Self.describe(item))") }
            do throws(IPCIDR.ParseError) {
                return try IPCIDR(text)
            } catch {
                throw Problem(error.description)
            }
        }
    }

    /// A list of TCP/UDP port numbers (1-65535), e.g. `[8080, 8443]`.
    public mutating func ports(_ key: String) throws(SettingsError) -> [UInt16]? {
        try list(key, of: "port numbers (1-65535), e.g. [8080]") { item throws(Problem) in
            guard let number = item.integer, let port = UInt16(exactly: number), port > 0 else {
                throw Problem("\(item.integer.map(String.init) ?? Self.describe(item)) is not a port number (1-65535)")
            }
            return port
        }
    }

    /// A table whose every value is a string, e.g. `[labels]`.
    public mutating func stringTable(_ key: String) throws(SettingsError) -> [String: String]? {
        guard let nested = try table(key) else { return nil }
        var result: [String: String] = [:]
        for name in nested.table.keys {
            guard let value = nested.table[name], let text = value.string else {
                throw nested.error(name, "must be a string, not \(nested.table[name].map(Self.describe) ?? "absent")")
            }
            result[name] = text
        }
        return result
    }

    /// A nested table, read with its own reader (and its own `finish()`).
    public mutating func table(_ key: String) throws(SettingsError) -> SettingsReader? {
        guard let value = value(key) else { return nil }
        guard let nested = value.table else { throw error(key, "must be a table, not \(Self.describe(value))") }
        return SettingsReader(nested, file: file, keyPrefix: keyPrefix + key + ".")
    }

    // MARK: helpers

    /// What an element of a list got wrong.
    private struct Problem: Error {
        var text: String
        init(_ text: String) { self.text = text }
    }

    private mutating func list<Element>(
        _ key: String, of what: String, _ convert: (TOMLValue) throws(Problem) -> Element
    ) throws(SettingsError) -> [Element]? {
        guard let value = value(key) else { return nil }
        guard let items = value.array else {
            throw error(key, "must be a list of \(what), not \(Self.describe(value))")
        }
        var result: [Element] = []
        for item in items {
            do { result.append(try convert(item)) } catch { throw self.error(key, error.text) }
        }
        return result
    }

    /// `a string`, `an integer`, …
    private static func describe(_ value: TOMLValue) -> String {
        switch value {
        case .integer, .array: return "an \(value.typeName)"
        default: return "a \(value.typeName)"
        }
    }

    /// The known key within two edits of `key`, if there is one.
    private static func closest(to key: String, among known: [String]) -> String? {
        known.map { ($0, editDistance(Array(key.utf8), Array($0.utf8))) }.filter { $0.1 <= 2 }
            .min { $0.1 < $1.1 }?.0
    }

    private static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
