import Testing
import WeftCore

/// The replacements for Foundation's `trimmingCharacters(in:)` trim what its character sets trim.
@Suite struct StringTrimmingTests {
    @Test(arguments: [
        (" 90s\t", "90s"), ("\u{00A0}5m\u{3000}", "5m"), ("1h 30m", "1h 30m"), ("  ", ""), ("", ""),
        ("\n5m\n", "\n5m\n"),
    ])
    func spacesAndTabs(_ text: String, _ trimmed: String) {
        #expect(text.trimmingSpaces() == trimmed)
    }

    @Test(arguments: [
        ("weftjoin.abc.def\n", "weftjoin.abc.def"), ("\r\n\t token \u{2028}", "token"), ("\n\n", ""),
        ("a b", "a b"),
    ])
    func whitespaceAndNewlines(_ text: String, _ trimmed: String) {
        #expect(text.trimmingWhitespace() == trimmed)
    }

    @Test func chosenScalars() {
        #expect("[2001:2::1]".trimming { $0 == "[" || $0 == "]" } == "2001:2::1")
        #expect("198.18.0.1".trimming { $0 == "[" || $0 == "]" } == "198.18.0.1")
        #expect("[]".trimming { $0 == "[" || $0 == "]" } == "")
    }

    @Test func substrings() {
        let line = "x =  value  "
        #expect(line.split(separator: "=")[1].trimmingSpaces() == "value")
    }
}
