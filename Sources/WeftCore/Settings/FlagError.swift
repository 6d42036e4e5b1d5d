/// A command-line flag whose value cannot be used, printed as `--flag value: problem`; the settings it was applied
/// to stay as they were.
public struct FlagError: Error, Equatable, Sendable, CustomStringConvertible {
    public var flag: String
    public var value: String
    public var problem: String

    public init(flag: String, value: String, problem: String) {
        self.flag = flag
        self.value = value
        self.problem = problem
    }

    public var description: String { "--\(flag) \(value): \(problem)" }

    /// `parse(text)`, or the flag's error with the parser's message.
    public static func parsing<T>(_ flag: String, _ text: String, _ parse: (String) throws -> T) throws(FlagError) -> T
    {
        do { return try parse(text) } catch { throw FlagError(flag: flag, value: text, problem: "\(error)") }
    }
}
