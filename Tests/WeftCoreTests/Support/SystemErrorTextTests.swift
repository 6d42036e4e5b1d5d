import Testing
import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

@Suite struct SystemErrorTextTests {
    @Test func fileErrorsSayWhatTheSystemSaid() {
        let missing = #expect(throws: (any Error).self) {
            try String(contentsOfFile: "/nonexistent/weft", encoding: .utf8)
        }
        #expect(missing.map(SystemErrorText.describe) == "No such file or directory")
        let directory = #expect(throws: (any Error).self) { try Data(contentsOf: URL(fileURLWithPath: "/")) }
        #expect(directory.map(SystemErrorText.describe) == "Is a directory")
    }

    @Test func otherErrorsAreDescribed() {
        struct Refused: Error, CustomStringConvertible { var description: String { "refused by policy" } }
        #expect(SystemErrorText.describe(Refused()) == "refused by policy")
        #expect(SystemErrorText.describe(POSIXError(.EACCES)) == "Permission denied")
    }
}
