import Logging
import WeftCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes each log record as one JSON object a line: `time` (RFC 3339, UTC, microseconds), `level`, `logger` (the
/// label), `message`, then the metadata as string fields (never overriding those four). For journald
/// (`priorityPrefix`) each line starts with its syslog priority, `<4>{…}`, which journald takes off and files.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let priorityPrefix: Bool
    private let sink: @Sendable (String) -> Void

    public init(label: String, priorityPrefix: Bool = false, sink: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.priorityPrefix = priorityPrefix
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level = event.level
        let message = event.message
        var fields = metadataProvider?.get() ?? [:]
        fields.merge(metadata) { _, handler in handler }
        if let explicit = event.metadata { fields.merge(explicit) { _, call in call } }
        var record = priorityPrefix ? "<\(JournalStream.priority(level))>" : ""
        record += "{\"time\":\(Self.quoted(Self.timestamp()))"
        record += ",\"level\":\(Self.quoted(level.rawValue))"
        record += ",\"logger\":\(Self.quoted(label))"
        record += ",\"message\":\(Self.quoted(message.description))"
        let reserved: Set<String> = ["time", "level", "logger", "message"]
        for key in fields.keys.sorted() where !reserved.contains(key) {
            record += ",\(Self.quoted(key)):\(Self.quoted(fields[key]!.description))"
        }
        record += "}"
        sink(record)
    }

    /// Writes whole lines to standard error (one write(2) a line, so concurrent lines never interleave).
    public static let standardError: @Sendable (String) -> Void = { line in StandardStream.error.write(line + "\n") }

    /// A JSON string literal for `text`.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// Now, as `2026-12-02T19:32:41.123456Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func padded(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let micros = padded(Int32(now.tv_nsec / 1000), 6)
        return "\(padded(parts.tm_year + 1900, 4))-\(padded(parts.tm_mon + 1, 2))-\(padded(parts.tm_mday, 2))T"
            + "\(padded(parts.tm_hour, 2)):\(padded(parts.tm_min, 2)):\(padded(parts.tm_sec, 2)).\(micros)Z"
    }
}
