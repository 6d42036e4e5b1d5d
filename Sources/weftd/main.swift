import ArgumentParser
import WeftCore

/// The control plane. Its server arrives with the control-plane work; today it reports its version.
@main
struct Weftd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weftd",
        abstract: "The Weft control plane: registry, CA, intentions and live config for every node.",
        version: WeftVersion.current
    )

    func run() async throws {
        throw ValidationError("weftd has no server yet in this version (\(WeftVersion.current)); see README.md, Status")
    }
}
