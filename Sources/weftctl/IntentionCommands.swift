import ArgumentParser
import Foundation
import WeftAdminClient
import WeftCore

struct IntentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "intention", abstract: "Who may call whom: allow, deny, list, delete, check; stop-all and resume.",
        discussion: "SRC and DST are * (any service), name (namespace default) or namespace/name.",
        subcommands: [
            Allow.self, Deny.self, List.self, Delete.self, Check.self,
            // The same commands as under `mesh`: stopping all traffic overrides every intention.
            MeshCommand.StopAll.self, MeshCommand.Resume.self,
        ]
    )

    struct Put: ParsableArguments {
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The caller: *, name or namespace/name.") var source: String
        @Argument(help: "The callee: *, name or namespace/name.") var destination: String
        @Option(help: "Why this intention exists.") var description: String?
        @Option(
            name: .customLong("if-match"),
            help: "Only if the intention is still at this revision (0: only if it does not exist).")
        var ifMatch: Int64?

        func put(_ action: IntentionAction) async throws {
            let intention = Intention(
                source: try parseSelector(source, what: "source"),
                destination: try parseSelector(destination, what: "destination"),
                action: action, description: description
            )
            let stored = try await connection.withClient { try await $0.putIntention(intention, ifMatch: ifMatch) }
            if connection.output == .json { return Output.json(stored) }
            print("\(action.rawValue) \(intention.source) → \(intention.destination) (revision \(stored.revision))")
        }
    }

    struct Allow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Allow SRC to call DST (replaces an intention for the same pair).")
        @OptionGroup var options: Put
        func run() async throws { try await options.put(.allow) }
    }

    struct Deny: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deny SRC calling DST (replaces an intention for the same pair).")
        @OptionGroup var options: Put
        func run() async throws { try await options.put(.deny) }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every intention.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let intentions = try await connection.withClient { try await $0.intentions() }
            if connection.output == .json { return Output.json(intentions) }
            Output.table(
                ["SOURCE", "DESTINATION", "ACTION", "L7 RULES", "DESCRIPTION", "REVISION"],
                intentions.map { item in
                    let intention = item.value
                    return [
                        intention.source.description, intention.destination.description, intention.action.rawValue,
                        intention.permissions.isEmpty ? "-" : "\(intention.permissions.count)",
                        intention.description ?? "-",
                        "\(item.revision)",
                    ]
                },
                empty: "no intentions: every call gets the mesh default (weftctl mesh show)"
            )
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete the intention for SRC → DST.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The caller: *, name or namespace/name.") var source: String
        @Argument(help: "The callee: *, name or namespace/name.") var destination: String
        @Option(name: .customLong("if-match"), help: "Only if the intention is still at this revision.") var ifMatch:
            Int64?

        func run() async throws {
            let from = try parseSelector(source, what: "source")
            let to = try parseSelector(destination, what: "destination")
            try await connection.withClient {
                try await $0.deleteIntention(source: from, destination: to, ifMatch: ifMatch)
            }
            if connection.output == .json { return Output.json(["deleted": "\(from)>\(to)"]) }
            print("intention \(from) → \(to) deleted")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "How the mesh judges a call from SRC to DST right now.",
            discussion:
                "SRC - stands for a caller without workload identity. With --method (and --path), an HTTP request."
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The caller: name or namespace/name, or - for none.") var source: String
        @Argument(help: "The callee: name or namespace/name.") var destination: String
        @Option(help: "An HTTP method, to judge a request.") var method: String?
        @Option(help: "The request's path.") var path: String?

        func run() async throws {
            let from = source == "-" ? nil : try parseServiceName(source)
            let to = try parseServiceName(destination)
            let result = try await connection.withClient {
                try await $0.authorize(source: from, destination: to, method: method, path: path)
            }
            if connection.output == .json { return Output.json(result) }
            print("\(result.allowed ? "allow" : "deny"): \(result.reason)")
        }
    }
}
