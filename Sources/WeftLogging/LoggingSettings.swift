import Logging
import Synchronization

/// The `--log-level` and `--log-format` every Weft executable takes, checked once.
public struct LoggingSettings: Sendable, Equatable {
    private static let bootstrapped = Atomic<Bool>(false)

    public var level: Logger.Level
    public var format: LogFormat

    public init(level: Logger.Level = .info, format: LogFormat = .text) {
        self.level = level
        self.format = format
    }

    /// A flag value that names no level or format.
    public struct Error: Swift.Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Parses the flags' values: a level of trace, debug, info, notice, warning, error or critical, and a format
    /// of text or json.
    public init(level: String, format: String) throws(Error) {
        guard let parsedLevel = Logger.Level(rawValue: level) else {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw Error(description: "--log-level \(level): unknown level; give one of \(levels)")
        }
        guard let parsedFormat = LogFormat(rawValue: format) else {
            throw Error(description: "--log-format \(format): unknown format; give text or json")
        }
        self.init(level: parsedLevel, format: parsedFormat)
    }

    /// Makes every logger of the process write at this level in this format, to standard error. When that goes
    /// to journald (``JournalStream``), each line carries its priority and text lines no timestamp. The first call
    /// of a process decides; later ones change nothing.
    public func bootstrap(journal: Bool = JournalStream.isStandardError) {
        guard Self.bootstrapped.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else {
            return
        }
        let level = self.level
        switch (format, journal) {
        case (.text, false):
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        case (.text, true):
            LoggingSystem.bootstrap { label in
                var handler = JournalTextLogHandler(label: label, sink: JSONLogHandler.standardError)
                handler.logLevel = level
                return handler
            }
        case (.json, let journal):
            LoggingSystem.bootstrap { label in
                var handler = JSONLogHandler(label: label, priorityPrefix: journal, sink: JSONLogHandler.standardError)
                handler.logLevel = level
                return handler
            }
        }
    }
}
