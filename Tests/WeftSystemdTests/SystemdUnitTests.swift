import Foundation
import Testing

/// The shipped units keep their hardening: `systemd-analyze security` (offline, on the unit files as installed)
/// scores weftd at most 2.0 and weft-node at most 2.5, and systemd understands every line of them.
struct SystemdUnitTests {
    static let unitDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("systemd").path

    static func analyze(_ unit: String, threshold: Int) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
        process.arguments = ["security", "--offline=true", "--threshold=\(threshold)", "\(unitDirectory)/\(unit)"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test(arguments: [("weftd.service", 20), ("weft-node.service", 25)])
    func theUnitsScoreWithinTheirExposureLimit(unit: String, tenths: Int) throws {
        let (status, output) = try Self.analyze(unit, threshold: tenths)
        let overall = output.split(separator: "\n").last { $0.contains("Overall exposure level") } ?? "no score"
        #expect(status == 0, "\(unit): \(overall) is over \(Double(tenths) / 10)")
        #expect(!output.contains("Unknown key") && !output.contains("Unknown section"), "\(output)")
    }
}
