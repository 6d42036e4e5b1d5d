/// A TOML value. Dates and times are not supported (no Weft setting needs one) and are rejected with a clear error.
public indirect enum TOMLValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([TOMLValue])
    case table(TOMLTable)

    public var string: String? { if case .string(let v) = self { return v } else { return nil } }
    public var integer: Int64? { if case .integer(let v) = self { return v } else { return nil } }
    public var boolean: Bool? { if case .boolean(let v) = self { return v } else { return nil } }
    public var array: [TOMLValue]? { if case .array(let v) = self { return v } else { return nil } }
    public var table: TOMLTable? { if case .table(let v) = self { return v } else { return nil } }

    /// `string`, `integer`, … for error messages.
    public var typeName: String {
        switch self {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .boolean: return "boolean"
        case .array: return "array"
        case .table: return "table"
        }
    }
}

/// A TOML table: keys in file order, each with the line it was written on.
public struct TOMLTable: Equatable, Sendable {
    public private(set) var keys: [String] = []
    private var values: [String: TOMLValue] = [:]
    private var lines: [String: Int] = [:]
    /// Line of the table's header (`[name]`), or 1 for the root.
    public internal(set) var line: Int = 1
    /// How the table came to be, which decides what may still add to it.
    var definition = TOMLTableDefinition.header
    /// Keys whose arrays were made by `[[name]]` headers (only those may grow by another header).
    var arraysOfTables: Set<String> = []

    public init() {}

    public subscript(key: String) -> TOMLValue? { values[key] }

    /// The line a key's value was written on.
    public func line(of key: String) -> Int? { lines[key] }

    mutating func set(_ key: String, _ value: TOMLValue, line: Int) {
        if values[key] == nil { keys.append(key) }
        values[key] = value
        lines[key] = line
    }
}

/// How a table was defined (TOML 1.0): a header may define a table only once and only if nothing but other headers
/// made it; dotted keys may add only to tables that dotted keys made; an inline table is closed.
enum TOMLTableDefinition: Equatable, Sendable {
    /// Made as the parent of a header (`a` for `[a.b]`); a `[a]` header may still define it.
    case implicit
    /// By its own `[name]` header (or the document's root).
    case header
    /// By a dotted key (`a.b = 1` makes `a`).
    case dotted
    /// By `{ … }`.
    case inline
}

public struct TOMLError: Error, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    public var description: String { "line \(line), column \(column): \(message)" }
}

public enum TOML {
    /// Parses a TOML document.
    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        var parser = TOMLParser(Array(text.unicodeScalars))
        return try parser.parseDocument()
    }
}

struct TOMLParser {
    private let s: [Unicode.Scalar]
    private var i = 0
    private var line = 1
    private var lineStart = 0
    private var root = TOMLTable()
    /// Path of the table that key/value lines go into; the last element indexes arrays of tables.
    private var current: [PathStep] = []
    private var definedTables = Set<[String]>()

    enum PathStep: Equatable {
        case key(String)
        case lastElement(String)
    }

    init(_ scalars: [Unicode.Scalar]) { s = scalars }

    private func error(_ message: String) -> TOMLError {
        TOMLError(line: line, column: i - lineStart + 1, message: message)
    }

    private var atEnd: Bool { i >= s.count }
    private var peek: Unicode.Scalar? { i < s.count ? s[i] : nil }
    private func peek(_ offset: Int) -> Unicode.Scalar? { i + offset < s.count ? s[i + offset] : nil }

    private mutating func advance() {
        if s[i] == "\n" {
            line += 1
            lineStart = i + 1
        }
        i += 1
    }

    private mutating func skipSpaces() {
        while let c = peek, c == " " || c == "\t" { advance() }
    }

    private mutating func skipComment() throws(TOMLError) {
        guard peek == "#" else { return }
        while let c = peek, c != "\n" {
            if c == "\r" && peek(1) == "\n" { return }
            if Self.isControl(c) { throw error("control character in comment") }
            advance()
        }
    }

    /// Skips blank lines, comments and whitespace including newlines (inside arrays).
    private mutating func skipTrivia() throws(TOMLError) {
        while let c = peek {
            if c == "\r" && peek(1) != "\n" {
                throw error("a carriage return must be followed by a line feed")
            } else if c == " " || c == "\t" || c == "\n" || c == "\r" {
                advance()
            } else if c == "#" {
                try skipComment()
            } else {
                return
            }
        }
    }

    private mutating func expectLineEnd() throws(TOMLError) {
        skipSpaces()
        try skipComment()
        if peek == "\r" && peek(1) == "\n" { advance() }
        guard atEnd || peek == "\n" else { throw error("expected the end of the line, found '\(peek!)'") }
        if !atEnd { advance() }
    }

    mutating func parseDocument() throws(TOMLError) -> TOMLTable {
        while true {
            try skipTrivia()
            guard let c = peek else { break }
            if c == "[" {
                try parseHeader()
            } else {
                let keyLine = line
                let key = try parseKey()
                skipSpaces()
                guard peek == "=" else { throw error("expected '=' after the key \(key.joined(separator: "."))") }
                advance()
                skipSpaces()
                let value = try parseValue()
                try insert(key, value, line: keyLine)
                try expectLineEnd()
            }
        }
        return root
    }

    // MARK: keys

    private mutating func parseKey() throws(TOMLError) -> [String] {
        var parts: [String] = []
        while true {
            skipSpaces()
            guard let c = peek else { throw error("expected a key") }
            if c == "\"" {
                parts.append(try parseBasicString())
            } else if c == "'" {
                parts.append(try parseLiteralString())
            } else {
                var key = ""
                while let c = peek, c.properties.isASCIIHexDigit || isBareKeyScalar(c) {
                    key.unicodeScalars.append(c)
                    advance()
                }
                guard !key.isEmpty else { throw error("expected a key, found '\(c)'") }
                parts.append(key)
            }
            skipSpaces()
            guard peek == "." else { return parts }
            advance()
        }
    }

    private func isBareKeyScalar(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_" || c == "-"
    }

    // MARK: headers

    private mutating func parseHeader() throws(TOMLError) {
        let headerLine = line
        advance()
        let isArray = peek == "["
        if isArray { advance() }
        let key = try parseKey()
        guard peek == "]" else { throw error("expected ']' to close the table header") }
        advance()
        if isArray {
            guard peek == "]" else { throw error("expected ']]' to close the array-of-tables header") }
            advance()
        }
        try expectLineEnd()

        var path: [PathStep] = []
        for (index, part) in key.enumerated() {
            let isLast = index == key.count - 1
            try descend(&root, path: path) { table throws(TOMLError) in
                switch table[part] {
                case nil:
                    var fresh = TOMLTable()
                    fresh.line = headerLine
                    if isLast && isArray {
                        table.set(part, .array([.table(fresh)]), line: headerLine)
                        table.arraysOfTables.insert(part)
                    } else {
                        fresh.definition = isLast ? .header : .implicit
                        table.set(part, .table(fresh), line: headerLine)
                    }
                case .table(var existing)?:
                    if isLast && isArray {
                        throw TOMLError(
                            line: headerLine, column: 1,
                            message: "'\(key.joined(separator: "."))' is a table, not an array of tables")
                    }
                    if isLast {
                        guard existing.definition == .implicit else {
                            throw TOMLError(
                                line: headerLine, column: 1,
                                message: "table '\(key.joined(separator: "."))' is defined twice")
                        }
                        existing.definition = .header
                        existing.line = headerLine
                        table.set(part, .table(existing), line: headerLine)
                    } else if existing.definition == .inline {
                        throw TOMLError(
                            line: headerLine, column: 1, message: "inline table '\(part)' cannot be extended")
                    }
                case .array(var elements)? where table.arraysOfTables.contains(part):
                    if isLast && isArray {
                        var fresh = TOMLTable()
                        fresh.line = headerLine
                        elements.append(.table(fresh))
                        table.set(part, .array(elements), line: headerLine)
                    } else if isLast {
                        throw TOMLError(
                            line: headerLine, column: 1,
                            message: "'\(key.joined(separator: "."))' is an array of tables, not a table")
                    }
                case let other?:
                    throw TOMLError(
                        line: headerLine, column: 1, message: "'\(part)' is already a \(other.typeName), not a table")
                }
            }
            let isArrayStep: Bool = {
                var probe = root
                for step in path {
                    switch step {
                    case .key(let k): probe = probe[k]?.table ?? TOMLTable()
                    case .lastElement(let k): probe = probe[k]?.array?.last?.table ?? TOMLTable()
                    }
                }
                return probe[part]?.array != nil
            }()
            path.append(isArrayStep ? .lastElement(part) : .key(part))
        }
        current = path
    }

    /// Runs `body` on the table at `path` (inside `table`), writing the change back.
    private func descend(
        _ table: inout TOMLTable, path: ArraySlice<PathStep>, _ body: (inout TOMLTable) throws(TOMLError) -> Void
    ) throws(TOMLError) {
        guard let step = path.first else {
            try body(&table)
            return
        }
        switch step {
        case .key(let key):
            guard var child = table[key]?.table else { throw error("'\(key)' is not a table") }
            try descend(&child, path: path.dropFirst(), body)
            table.set(key, .table(child), line: table.line(of: key) ?? line)
        case .lastElement(let key):
            guard var elements = table[key]?.array, var child = elements.last?.table else {
                throw error("'\(key)' is not an array of tables")
            }
            try descend(&child, path: path.dropFirst(), body)
            elements[elements.count - 1] = .table(child)
            table.set(key, .array(elements), line: table.line(of: key) ?? line)
        }
    }

    private func descend(
        _ table: inout TOMLTable, path: [PathStep], _ body: (inout TOMLTable) throws(TOMLError) -> Void
    ) throws(TOMLError) {
        try descend(&table, path: path[...], body)
    }

    // MARK: key/value insertion

    private mutating func insert(_ key: [String], _ value: TOMLValue, line valueLine: Int) throws(TOMLError) {
        let position = error("")
        try descend(&root, path: current) { table throws(TOMLError) in
            try Self.insert(key[...], value, into: &table, line: valueLine, at: position)
        }
    }

    private static func insert(
        _ key: ArraySlice<String>, _ value: TOMLValue, into table: inout TOMLTable, line: Int, at position: TOMLError
    ) throws(TOMLError) {
        let name = key.first!
        if key.count == 1 {
            guard table[name] == nil else {
                throw TOMLError(line: line, column: 1, message: "key '\(name)' is defined twice")
            }
            table.set(name, value, line: line)
            return
        }
        var child: TOMLTable
        switch table[name] {
        case nil:
            child = TOMLTable()
            child.line = line
            child.definition = .dotted
        case .table(let existing)? where existing.definition == .dotted:
            child = existing
        case .table?:
            throw TOMLError(
                line: line, column: 1, message: "table '\(name)' was defined elsewhere; a dotted key cannot add to it")
        case let other?:
            throw TOMLError(line: line, column: 1, message: "'\(name)' is already a \(other.typeName), not a table")
        }
        try insert(key.dropFirst(), value, into: &child, line: line, at: position)
        table.set(name, .table(child), line: table.line(of: name) ?? line)
    }

    // MARK: values

    private mutating func parseValue() throws(TOMLError) -> TOMLValue {
        guard let c = peek else { throw error("expected a value") }
        switch c {
        case "\"":
            if peek(1) == "\"" && peek(2) == "\"" { return .string(try parseMultilineBasicString()) }
            return .string(try parseBasicString())
        case "'":
            if peek(1) == "'" && peek(2) == "'" { return .string(try parseMultilineLiteralString()) }
            return .string(try parseLiteralString())
        case "[":
            return try parseArray()
        case "{":
            return try parseInlineTable()
        case "t", "f":
            if matches("true") {
                i += 4
                return .boolean(true)
            }
            if matches("false") {
                i += 5
                return .boolean(false)
            }
            return try parseNumber()
        default:
            return try parseNumber()
        }
    }

    private func matches(_ word: String) -> Bool {
        let w = Array(word.unicodeScalars)
        guard i + w.count <= s.count, Array(s[i..<i + w.count]) == w else { return false }
        if let next = i + w.count < s.count ? s[i + w.count] : nil, isBareKeyScalar(next) { return false }
        return true
    }

    private mutating func parseNumber() throws(TOMLError) -> TOMLValue {
        var text = ""
        while let c = peek, isBareKeyScalar(c) || c == "+" || c == "." || c == ":" {
            text.unicodeScalars.append(c)
            advance()
        }
        guard !text.isEmpty else {
            throw error("expected a value, found '\(peek.map { String($0) } ?? "end of file")'")
        }
        if text.contains(":") || (text.count >= 10 && text.dropFirst(4).first == "-" && text.first?.isNumber == true) {
            throw error("dates and times are not supported")
        }
        if ["inf", "+inf", "-inf", "nan", "+nan", "-nan"].contains(text) {
            return .float(text.hasSuffix("inf") ? (text.hasPrefix("-") ? -.infinity : .infinity) : .nan)
        }
        if let first = text.unicodeScalars.first, !(first >= "0" && first <= "9") && first != "+" && first != "-" {
            throw error("'\(text)' is not a value (strings need quotes)")
        }
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where text.hasPrefix(prefix) {
            let body = text.dropFirst(2)
            guard Self.isDigitRun(body, radix: radix), let value = Int64(body.filter { $0 != "_" }, radix: radix) else {
                throw error("'\(text)' is not a valid number")
            }
            return .integer(value)
        }
        let unsigned = text.first == "+" || text.first == "-" ? text.dropFirst() : Substring(text)
        if unsigned.count > 1 && unsigned.first == "0", let next = unsigned.dropFirst().first,
            next.isNumber || next == "_"
        {
            throw error("'\(text)' has a leading zero")
        }
        if text.contains(".") || text.contains("e") || text.contains("E") {
            guard Self.isFloat(unsigned), let value = Double(text.filter { $0 != "_" }) else {
                throw error("'\(text)' is not a valid number")
            }
            return .float(value)
        }
        guard Self.isDigitRun(unsigned, radix: 10) else { throw error("'\(text)' is not a valid number") }
        guard let value = Int64(text.filter { $0 != "_" }) else {
            throw error("'\(text)' does not fit in a 64-bit integer")
        }
        return .integer(value)
    }

    /// Digits of `radix` with single underscores between them.
    private static func isDigitRun(_ text: Substring, radix: Int) -> Bool {
        guard let first = text.first, let last = text.last, first != "_", last != "_", !text.contains("__") else {
            return false
        }
        return text.allSatisfy { $0 == "_" || ($0.isASCII && $0.hexDigitValue.map { $0 < radix } == true) }
    }

    /// `1.5`, `1e6`, `1.5E-3` (without the sign): an integer part, then a fraction, an exponent or both.
    private static func isFloat(_ text: Substring) -> Bool {
        let parts = text.split(separator: "e", maxSplits: 1, omittingEmptySubsequences: false).flatMap {
            $0.split(separator: "E", maxSplits: 1, omittingEmptySubsequences: false)
        }
        guard parts.count <= 2 else { return false }
        let mantissa = parts[0].split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard mantissa.allSatisfy({ isDigitRun($0, radix: 10) }) else { return false }
        guard parts.count == 2 else { return mantissa.count == 2 }
        let exponent = parts[1].first == "+" || parts[1].first == "-" ? parts[1].dropFirst() : parts[1]
        return isDigitRun(exponent, radix: 10)
    }

    /// Control characters other than tab, which TOML allows in no string or comment.
    private static func isControl(_ c: Unicode.Scalar) -> Bool {
        (c.value < 0x20 && c != "\t") || c.value == 0x7F
    }

    private mutating func parseArray() throws(TOMLError) -> TOMLValue {
        advance()
        var elements: [TOMLValue] = []
        while true {
            try skipTrivia()
            if peek == "]" {
                advance()
                return .array(elements)
            }
            elements.append(try parseValue())
            try skipTrivia()
            if peek == "," {
                advance()
                continue
            }
            guard peek == "]" else { throw error("expected ',' or ']' in the array") }
            advance()
            return .array(elements)
        }
    }

    private mutating func parseInlineTable() throws(TOMLError) -> TOMLValue {
        advance()
        var table = TOMLTable()
        table.line = line
        skipSpaces()
        if peek == "}" {
            advance()
            table.definition = .inline
            return .table(table)
        }
        while true {
            skipSpaces()
            let keyLine = line
            let key = try parseKey()
            guard peek == "=" else { throw error("expected '=' in the inline table") }
            advance()
            skipSpaces()
            let value = try parseValue()
            try Self.insert(key[...], value, into: &table, line: keyLine, at: error(""))
            skipSpaces()
            if peek == "," {
                advance()
                continue
            }
            guard peek == "}" else { throw error("expected ',' or '}' in the inline table (it must fit on one line)") }
            advance()
            table.definition = .inline
            return .table(table)
        }
    }

    // MARK: strings

    private mutating func parseBasicString() throws(TOMLError) -> String {
        advance()
        var out = ""
        while true {
            guard let c = peek, c != "\n" else { throw error("unterminated string") }
            advance()
            if c == "\"" { return out }
            if c == "\\" {
                out.unicodeScalars.append(try parseEscape())
            } else {
                if c.value < 0x20 && c != "\t" || c.value == 0x7F { throw error("control character in string") }
                out.unicodeScalars.append(c)
            }
        }
    }

    private mutating func parseEscape() throws(TOMLError) -> Unicode.Scalar {
        guard let e = peek else { throw error("unterminated escape") }
        advance()
        switch e {
        case "b": return "\u{08}"
        case "t": return "\t"
        case "n": return "\n"
        case "f": return "\u{0C}"
        case "r": return "\r"
        case "e": return "\u{1B}"
        case "\"": return "\""
        case "\\": return "\\"
        case "u", "U":
            let count = e == "u" ? 4 : 8
            var hex = ""
            for _ in 0..<count {
                guard let h = peek, h.properties.isASCIIHexDigit else {
                    throw error("\\\(e) needs \(count) hex digits")
                }
                hex.unicodeScalars.append(h)
                advance()
            }
            guard let value = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(value) else {
                throw error("\\\(e)\(hex) is not a Unicode scalar value")
            }
            return scalar
        default:
            throw error("unknown escape \\\(e)")
        }
    }

    private mutating func parseLiteralString() throws(TOMLError) -> String {
        advance()
        var out = ""
        while true {
            guard let c = peek, c != "\n" else { throw error("unterminated string") }
            advance()
            if c == "'" { return out }
            if Self.isControl(c) { throw error("control character in string") }
            out.unicodeScalars.append(c)
        }
    }

    private mutating func parseMultilineBasicString() throws(TOMLError) -> String {
        i += 3
        if peek == "\n" {
            advance()
        } else if peek == "\r" && peek(1) == "\n" {
            advance()
            advance()
        }
        var out = ""
        while true {
            guard let c = peek else { throw error("unterminated multi-line string") }
            if c == "\"" && peek(1) == "\"" && peek(2) == "\"" {
                i += 3
                for _ in 0..<2 where peek == "\"" {  // up to two quotes may end the content
                    out.unicodeScalars.append("\"")
                    advance()
                }
                return out
            }
            advance()
            if c == "\\" {
                var j = i
                while j < s.count, s[j] == " " || s[j] == "\t" { j += 1 }
                if j < s.count, s[j] == "\n" || s[j] == "\r" {
                    while let w = peek, w == " " || w == "\t" || w == "\n" || w == "\r" { advance() }
                } else {
                    out.unicodeScalars.append(try parseEscape())
                }
            } else {
                try checkMultilineScalar(c)
                out.unicodeScalars.append(c)
            }
        }
    }

    private mutating func parseMultilineLiteralString() throws(TOMLError) -> String {
        i += 3
        if peek == "\n" {
            advance()
        } else if peek == "\r" && peek(1) == "\n" {
            advance()
            advance()
        }
        var out = ""
        while true {
            guard let c = peek else { throw error("unterminated multi-line string") }
            if c == "'" && peek(1) == "'" && peek(2) == "'" {
                i += 3
                for _ in 0..<2 where peek == "'" {  // up to two apostrophes may end the content
                    out.unicodeScalars.append("'")
                    advance()
                }
                return out
            }
            advance()
            try checkMultilineScalar(c)
            out.unicodeScalars.append(c)
        }
    }

    /// A multi-line string may hold newlines (LF or CRLF) and tabs, but no other control character. Call after
    /// advancing past `c`.
    private func checkMultilineScalar(_ c: Unicode.Scalar) throws(TOMLError) {
        if c == "\r" && peek != "\n" { throw error("a carriage return must be followed by a line feed") }
        if c != "\n" && c != "\r" && Self.isControl(c) { throw error("control character in string") }
    }
}
