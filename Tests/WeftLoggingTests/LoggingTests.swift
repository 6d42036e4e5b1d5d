import Logging
import Synchronization
import Testing

@testable import WeftLogging

@Suite struct LoggingTests {
    @Test func flagValuesAreChecked() throws {
        #expect(try LoggingSettings(level: "debug", format: "json") == LoggingSettings(level: .debug, format: .json))
        #expect {
            _ = try LoggingSettings(level: "loud", format: "text")
        } throws: { error in
            "\(error)".contains("--log-level loud: unknown level; give one of trace, debug")
        }
        #expect {
            _ = try LoggingSettings(level: "info", format: "yaml")
        } throws: { error in
            "\(error)" == "--log-format yaml: unknown format; give text or json"
        }
    }

    @Test func aJSONLineCarriesLevelLoggerMessageAndMetadata() throws {
        let lines = Mutex<[String]>([])
        var handler = JSONLogHandler(label: "weft.node") { line in lines.withLock { $0.append(line) } }
        handler.logLevel = .debug
        handler[metadataKey: "node"] = "host-a"
        let logger = Logger(label: "weft.node") { _ in handler }
        logger.warning("tunnel \"down\"\nagain", metadata: ["peer": "198.18.0.2:15008", "level": "spoofed"])
        logger.trace("not written")
        let written = lines.withLock { $0 }
        try #require(written.count == 1)
        let line = written[0]
        #expect(line.hasPrefix("{\"time\":\""))
        #expect(
            line.hasSuffix(
                ",\"level\":\"warning\",\"logger\":\"weft.node\",\"message\":\"tunnel \\\"down\\\"\\nagain\""
                    + ",\"node\":\"host-a\",\"peer\":\"198.18.0.2:15008\"}"), "\(line)")
        #expect(!line.contains("\n"))
    }

    @Test func controlCharactersAreEscaped() {
        #expect(JSONLogHandler.quoted("a\u{1}b\tc\\") == "\"a\\u0001b\\tc\\\\\"")
    }

    @Test func timestampsAreRFC3339InUTC() {
        let stamp = JSONLogHandler.timestamp()
        #expect(
            stamp.count == "2026-12-02T19:32:41.123456Z".count && stamp.hasSuffix("Z")
                && stamp.dropFirst(10).first == "T")
    }
}
