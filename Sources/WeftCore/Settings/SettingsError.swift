/// A settings file that cannot be used, printed as `file:line: key: problem` (or `file:line: problem` when the
/// problem is the file's, such as a syntax error or a missing key).
public struct SettingsError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    /// The setting at fault, dotted for nested tables (`labels.team`); nil when the problem is not one key's.
    public var key: String?
    public var problem: String

    public init(file: String, line: Int, key: String? = nil, problem: String) {
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem
    }

    /// A TOML syntax error in `file`.
    public init(file: String, _ error: TOMLError) {
        self.init(file: file, line: error.line, problem: "\(error.message) (column \(error.column))")
    }

    /// `key: problem`, or the problem alone.
    public var message: String { key.map { "\($0): \(problem)" } ?? problem }

    public var description: String { "\(file):\(line): \(message)" }
}
