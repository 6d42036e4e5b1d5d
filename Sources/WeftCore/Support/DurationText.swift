/// Durations as people write them in config files and flags: `90s`, `5m`, `24h`, `7d`, or a bare number of
/// seconds; units may be combined (`1h30m`).
public enum DurationText {
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var text: String
        public var description: String { "'\(text)' is not a duration: write e.g. 90s, 5m, 24h, 7d or 1h30m" }
    }

    public static func parse(_ text: String) throws(ParseError) -> Duration {
        let trimmed = text.trimmingSpaces()
        guard !trimmed.isEmpty else { throw ParseError(text: text) }
        if let seconds = Int64(trimmed), seconds >= 0 { return .seconds(seconds) }
        var total: Int64 = 0
        var number: Int64?
        for character in trimmed {
            if let digit = character.wholeNumberValue, character.isASCII {
                let (scaled, overflow1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (next, overflow2) = scaled.addingReportingOverflow(Int64(digit))
                guard !overflow1, !overflow2 else { throw ParseError(text: text) }
                number = next
                continue
            }
            let unit: Int64
            switch character {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86400
            default: throw ParseError(text: text)
            }
            guard let value = number else { throw ParseError(text: text) }
            let (product, overflow) = value.multipliedReportingOverflow(by: unit)
            guard !overflow else { throw ParseError(text: text) }
            total += product
            number = nil
        }
        guard number == nil else { throw ParseError(text: text) }
        return .seconds(total)
    }

    /// Milliseconds with two decimals, for timings: `12.34 ms`.
    public static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let hundredths = seconds * 100_000 + (attoseconds + 5_000_000_000_000) / 10_000_000_000_000
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) ms"
    }

    /// The largest whole unit: `90s`, `5m`, `24h`, `7d`.
    public static func format(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        if seconds > 0 && seconds % 86400 == 0 { return "\(seconds / 86400)d" }
        if seconds > 0 && seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds > 0 && seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
