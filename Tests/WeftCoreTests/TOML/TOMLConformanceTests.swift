import Foundation
import Testing
import WeftCore

/// The published toml-test corpus (github.com/toml-lang/toml-test, TOML 1.0) run against our parser: every valid case
/// must parse to its expected JSON, every invalid case must be refused. The corpus is not in the repository: Debian's
/// golang-github-burntsushi-toml-dev ships it (Scripts/bootstrap installs it); WEFT_TOML_TEST_DIR points elsewhere.
@Suite struct TOMLConformanceTests {
    /// Valid cases we refuse on purpose, with why. Dates and times are the one TOML feature Weft's parser does not
    /// accept (no setting needs one; a config that writes one gets "dates and times are not supported").
    static let refusedOnPurpose: [String: String] = [
        "valid/array/array": "dates and times are not supported",
        "valid/comment/everywhere": "dates and times are not supported",
        "valid/datetime/datetime": "dates and times are not supported",
        "valid/datetime/local-date": "dates and times are not supported",
        "valid/datetime/local-time": "dates and times are not supported",
        "valid/datetime/local": "dates and times are not supported",
        "valid/datetime/milliseconds": "dates and times are not supported",
        "valid/datetime/timezone": "dates and times are not supported",
        "valid/example": "dates and times are not supported",
        "valid/spec-example-1": "dates and times are not supported",
        "valid/spec-example-1-compact": "dates and times are not supported",
    ]

    static let directory: String? = {
        let candidates = [
            ProcessInfo.processInfo.environment["WEFT_TOML_TEST_DIR"],
            "/usr/share/gocode/src/github.com/BurntSushi/toml/internal/toml-test/tests",
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0 + "/valid") }
    }()

    /// Case names (`valid/array/nested`) under `kind`, sorted.
    static func cases(_ kind: String) -> [String] {
        guard let directory, let files = try? FileManager.default.subpathsOfDirectory(atPath: "\(directory)/\(kind)")
        else {
            return []
        }
        return files.filter { $0.hasSuffix(".toml") }.map { "\(kind)/\($0.dropLast(5))" }.sorted()
    }

    static let validCases = cases("valid")
    static let invalidCases = cases("invalid")

    @Test func theCorpusIsInstalled() {
        #expect(Self.directory != nil, "no toml-test corpus: run Scripts/bootstrap (golang-github-burntsushi-toml-dev)")
        #expect(Self.validCases.count > 90 && Self.invalidCases.count > 200)
    }

    @Test(arguments: validCases)
    func validCaseParsesToItsJSON(name: String) throws {
        let text = try #require(try Self.text(of: name), "\(name) is not UTF-8")
        if let reason = Self.refusedOnPurpose[name] {
            #expect(throws: TOMLError.self, "\(name) is skipped because \(reason), so it must be refused") {
                try TOML.parse(text)
            }
            return
        }
        let parsed = try TOML.parse(text)
        let expectedData = try Data(contentsOf: URL(fileURLWithPath: "\(Self.directory!)/\(name).json"))
        let expected = try TaggedValue(json: JSONSerialization.jsonObject(with: expectedData))
        #expect(TaggedValue(.table(parsed)) == expected, "\(name)")
    }

    @Test(arguments: invalidCases)
    func invalidCaseIsRefused(name: String) throws {
        // The settings readers read files as UTF-8; a file that is not is refused before the parser sees it.
        guard let text = try Self.text(of: name) else { return }
        #expect(throws: TOMLError.self, "\(name) must be refused:\n\(text)") { try TOML.parse(text) }
    }

    static func text(of name: String) throws -> String? {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(directory!)/\(name).toml"))
        return String(validating: bytes, as: UTF8.self)
    }
}

/// toml-test's JSON encoding of a TOML document: tables are objects, arrays are arrays, and every leaf is
/// `{"type": "integer", "value": "42"}`.
private indirect enum TaggedValue: Equatable, CustomStringConvertible {
    case string(String)
    case integer(Int64)
    case float(Double)
    case bool(Bool)
    case array([TaggedValue])
    case table([String: TaggedValue])

    struct Unexpected: Error { var json: String }

    init(json: Any) throws {
        if let object = json as? [String: Any] {
            if object.count == 2, let type = object["type"] as? String, let value = object["value"] as? String {
                switch type {
                case "string": self = .string(value)
                case "integer":
                    guard let number = Int64(value) else { throw Unexpected(json: value) }
                    self = .integer(number)
                case "float":
                    guard let number = Double(value) else { throw Unexpected(json: value) }
                    self = .float(number)
                case "bool": self = .bool(value == "true")
                default: throw Unexpected(json: "\(type) \(value)")
                }
                return
            }
            self = .table(try object.mapValues { try TaggedValue(json: $0) })
        } else if let array = json as? [Any] {
            self = .array(try array.map { try TaggedValue(json: $0) })
        } else {
            throw Unexpected(json: "\(json)")
        }
    }

    init(_ value: TOMLValue) {
        switch value {
        case .string(let text): self = .string(text)
        case .integer(let number): self = .integer(number)
        case .float(let number): self = .float(number)
        case .boolean(let flag): self = .bool(flag)
        case .array(let items): self = .array(items.map(TaggedValue.init))
        case .table(let table):
            self = .table(Dictionary(uniqueKeysWithValues: table.keys.map { ($0, TaggedValue(table[$0]!)) }))
        }
    }

    static func == (lhs: TaggedValue, rhs: TaggedValue) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.integer(let a), .integer(let b)): return a == b
        case (.float(let a), .float(let b)): return a == b || (a.isNaN && b.isNaN)
        case (.bool(let a), .bool(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.table(let a), .table(let b)): return a == b
        default: return false
        }
    }

    var description: String {
        switch self {
        case .string(let text): return "\"\(text)\""
        case .integer(let number): return "\(number)"
        case .float(let number): return "\(number)f"
        case .bool(let flag): return "\(flag)"
        case .array(let items): return "[\(items.map(\.description).joined(separator: ", "))]"
        case .table(let table):
            return "{\(table.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))}"
        }
    }
}
