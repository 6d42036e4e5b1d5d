import ArgumentParser
import WeftCore

/// The admins' CLI over weftd's admin API.
@main
struct Weftctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weftctl",
        abstract: "Manage a Weft mesh: nodes, services, intentions, telemetry, certificates.",
        version: WeftVersion.current
    )

    func run() async throws {
        throw ValidationError("weftctl has no commands yet in this version (\(WeftVersion.current)); see README.md, Status")
    }
}
