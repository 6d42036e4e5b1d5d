/// A domain name as its labels (raw octets, case preserved). The root name has no labels.
public struct DNSName: Hashable, Sendable, CustomStringConvertible {
    public private(set) var labels: [[UInt8]]

    public static let root = DNSName(uncheckedLabels: [])
    public static let maxLabelLength = 63
    public static let maxWireLength = 255

    /// Builds a name from labels of 1–63 octets whose wire form is at most 255 octets.
    public init(labels: [[UInt8]]) throws(DNSMessageError) {
        guard labels.allSatisfy({ !$0.isEmpty && $0.count <= Self.maxLabelLength }),
            Self.wireLength(of: labels) <= Self.maxWireLength
        else {
            throw .invalidName(labels.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "."))
        }
        self.labels = labels
    }

    /// Parses dotted text such as `backend.default.weft` (a trailing dot is allowed; `.` is the root). No escapes.
    public init(_ text: String) throws(DNSMessageError) {
        if text == "." || text.isEmpty {
            self = .root
            return
        }
        var body = Substring(text)
        if body.hasSuffix(".") { body = body.dropLast() }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.allSatisfy({ !$0.isEmpty }) else { throw .invalidName(text) }
        do {
            try self.init(labels: parts.map { Array($0.utf8) })
        } catch {
            throw .invalidName(text)
        }
    }

    init(uncheckedLabels: [[UInt8]]) {
        self.labels = uncheckedLabels
    }

    /// Octets in wire form: each label plus its length byte, plus the final zero byte.
    public var wireLength: Int { Self.wireLength(of: labels) }

    static func wireLength(of labels: [[UInt8]]) -> Int {
        labels.reduce(1) { $0 + 1 + $1.count }
    }

    /// The same name with ASCII letters in lower case.
    public func lowercased() -> DNSName {
        DNSName(uncheckedLabels: labels.map { $0.map(Self.lowercase) })
    }

    public func equalsIgnoringCase(_ other: DNSName) -> Bool {
        labels.count == other.labels.count
            && zip(labels, other.labels).allSatisfy { a, b in
                a.count == b.count && zip(a, b).allSatisfy { Self.lowercase($0) == Self.lowercase($1) }
            }
    }

    /// True when `suffix`'s labels end this name (ignoring ASCII case); every name is under the root.
    public func isSubdomain(of suffix: DNSName) -> Bool {
        guard suffix.labels.count <= labels.count else { return false }
        let tail = DNSName(uncheckedLabels: Array(labels.suffix(suffix.labels.count)))
        return tail.equalsIgnoringCase(suffix)
    }

    /// Dotted text without the trailing dot (`.` for the root); dots and non-printable octets inside labels are
    /// escaped as in zone files (`\.`, `\DDD`).
    public var description: String {
        guard !labels.isEmpty else { return "." }
        return labels.map { label in
            var text = ""
            for octet in label {
                switch octet {
                case UInt8(ascii: "."), UInt8(ascii: "\\"):
                    text += "\\" + String(UnicodeScalar(octet))
                case 0x21...0x7E:
                    text.append(Character(UnicodeScalar(octet)))
                default:
                    let digits = String(octet)
                    text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            return text
        }.joined(separator: ".")
    }

    static func lowercase(_ octet: UInt8) -> UInt8 {
        (0x41...0x5A).contains(octet) ? octet + 0x20 : octet
    }
}
