import Logging

/// Text lines for journald: each prefixed with its syslog priority (`<4>` for a warning, so `journalctl -p
/// warning` finds it) and without a timestamp (journald keeps its own): `<6>weftd: message key=value`.
public struct JournalTextLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: @Sendable (String) -> Void

    public init(label: String, sink: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadataProvider?.get() ?? [:]
        fields.merge(metadata) { _, handler in handler }
        if let explicit = event.metadata { fields.merge(explicit) { _, call in call } }
        // One line a record: journald would split a message at its newlines.
        var line = "<\(JournalStream.priority(event.level))>\(label): "
        line += event.message.description.replacingNewlines()
        for key in fields.keys.sorted() {
            line += " \(key)=\(fields[key]!.description.replacingNewlines())"
        }
        sink(line)
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        String(map { $0.isNewline ? " " : $0 })
    }
}
