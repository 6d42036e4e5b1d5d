import ArgumentParser
import Foundation
import WeftAdminClient
import WeftCore

struct MeshCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh", abstract: "Mesh-wide settings: show, stop-all, resume, default action, mode.",
        subcommands: [Show.self, StopAll.self, Resume.self, Default.self, Mode.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The mesh-wide settings.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let settings = try await connection.withClient { try await $0.mesh() }
            MeshCommand.print(settings, connection)
        }
    }

    struct StopAll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stop-all", abstract: "Deny all traffic in the mesh until resume.")
        @OptionGroup var connection: ConnectionOptions
        func run() async throws { try await MeshCommand.setStopAll(true, connection) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let traffic flow again after stop-all.")
        @OptionGroup var connection: ConnectionOptions
        func run() async throws { try await MeshCommand.setStopAll(false, connection) }
    }

    struct Default: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What happens when no intention matches: allow or deny.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "allow or deny.") var action: String

        func run() async throws {
            guard let value = IntentionAction(rawValue: action) else {
                throw ValidationError("'\(action)': use allow or deny")
            }
            let settings = try await connection.withClient { try await $0.setDefaultAction(value) }
            MeshCommand.print(settings, connection)
        }
    }

    struct Mode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "strict: only mTLS reaches mesh services; permissive: plaintext from outside passes too."
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "strict or permissive.") var mode: String

        func run() async throws {
            guard let value = MeshMode(rawValue: mode) else {
                throw ValidationError("'\(mode)': use strict or permissive")
            }
            let settings = try await connection.withClient { try await $0.setMeshMode(value) }
            MeshCommand.print(settings, connection)
        }
    }

    static func setStopAll(_ stop: Bool, _ connection: ConnectionOptions) async throws {
        let settings = try await connection.withClient { stop ? try await $0.stopAll() : try await $0.resume() }
        if connection.output == .json { return Output.json(settings) }
        Swift.print(stop ? "all traffic stopped (weftctl mesh resume lets it flow again)" : "traffic resumed")
    }

    static func print(_ settings: Revisioned<MeshSettings>, _ connection: ConnectionOptions) {
        if connection.output == .json { return Output.json(settings) }
        let value = settings.value
        Output.fields([
            ("traffic", value.stopAll ? "STOPPED" : "flowing"), ("default action", value.defaultAction.rawValue),
            ("mesh mode", value.meshMode.rawValue), ("egress", value.egress.rawValue),
            ("metrics push", value.telemetry.metricsPush.rawValue), ("revision", "\(settings.revision)"),
        ])
    }
}
