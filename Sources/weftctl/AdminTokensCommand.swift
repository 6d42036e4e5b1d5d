import ArgumentParser
import Foundation
import WeftAdminClient
import WeftCore

struct AdminTokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin-tokens", abstract: "Admin API tokens: create, list, delete.",
        subcommands: [Create.self, List.self, Delete.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an admin token.",
            discussion: "Prints the token (on stdout, alone) once; it is never shown again."
        )
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "A name for it (a DNS label); the audit log names its changes token:<name>.") var name: String
        @Option(
            help:
                "read (GET only), intentions (traffic policy), nodes (nodes, join tokens, services) or admin (everything)."
        ) var scope: String = "read"

        func run() async throws {
            guard let value = AdminTokenScope(name: scope) else {
                throw ValidationError(
                    "--scope '\(scope)': use one of \(AdminTokenScope.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            let token = try await connection.withClient { try await $0.createAdminToken(name: name, scope: value) }
            if connection.output == .json { return Output.json(token) }
            print(token.token ?? "")
            FileHandle.standardError.write(
                Data("\(token.scope.rawValue) token \(token.name) (id \(token.id)); shown only now\n".utf8))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every admin token (never the secret).")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let tokens = try await connection.withClient { try await $0.adminTokens() }
            if connection.output == .json { return Output.json(tokens) }
            Output.table(
                ["ID", "NAME", "SCOPE", "CREATED"],
                tokens.map { [$0.id, $0.name, $0.scope.rawValue, Output.date($0.createdAt)] },
                empty: "no admin tokens"
            )
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an admin token; it stops working at once.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The token's id (weftctl admin-tokens list).") var id: String

        func run() async throws {
            try await connection.withClient { try await $0.deleteAdminToken(id: id) }
            if connection.output == .json { return Output.json(["deleted": id]) }
            print("admin token \(id) deleted")
        }
    }
}
