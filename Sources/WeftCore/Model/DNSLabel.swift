/// Validation of names that must be RFC 1123 DNS labels (service names, node names, namespaces).
public enum DNSLabel {
    public enum ValidationError: Error, Equatable, CustomStringConvertible {
        case empty
        case tooLong(String)
        case invalid(String)

        public var description: String {
            switch self {
            case .empty:
                return "a name must not be empty"
            case .tooLong(let name):
                return "'\(name)' is longer than 63 characters"
            case .invalid(let name):
                return
                    "'\(name)' is not a DNS label: use lowercase letters, digits and '-', starting and ending with a letter or digit"
            }
        }
    }

    /// Throws unless `name` is 1–63 characters of `[a-z0-9-]`, not starting or ending with `-`.
    public static func validate(_ name: String) throws(ValidationError) {
        guard !name.isEmpty else { throw .empty }
        guard name.utf8.count <= 63 else { throw .tooLong(name) }
        let bytes = Array(name.utf8)
        let ok = bytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
        guard ok, bytes.first != 0x2D, bytes.last != 0x2D else { throw .invalid(name) }
    }

    public static func isValid(_ name: String) -> Bool {
        (try? validate(name)) != nil
    }
}
