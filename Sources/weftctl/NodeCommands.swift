import ArgumentParser
import Foundation
import WeftAdminClient
import WeftCore

struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes", abstract: "Nodes: list, show, set egress, set addresses, delete.",
        subcommands: [List.self, Show.self, Egress.self, SetAddresses.self, Delete.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every node.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let nodes = try await connection.withClient { try await $0.nodes() }
            if connection.output == .json { return Output.json(nodes) }
            Output.table(
                ["NAME", "STATUS", "ADDRESSES", "VERSION", "ENDPOINTS", "LAST SEEN", "CONFIG"],
                nodes.map { node in
                    let record = node.record
                    return [
                        record.name, record.status.rawValue, Output.list(record.addresses.map(\.description)),
                        record.version.isEmpty ? "-" : record.version, "\(node.endpoints.count)",
                        Output.date(node.lastSeen),
                        NodesCommand.config(node.stream),
                    ]
                },
                empty: "no nodes: create a join token with `weftctl node token create --name <node>`"
            )
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One node and its endpoints.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The node's name.") var name: String

        func run() async throws {
            let node = try await connection.withClient { try await $0.node(name) }
            if connection.output == .json { return Output.json(node) }
            let record = node.record
            Output.fields([
                ("name", record.name), ("status", record.status.rawValue),
                ("addresses", Output.list(record.addresses.map(\.description))),
                ("version", record.version), ("egress", record.egress?.rawValue ?? "mesh default"),
                ("joined", Output.date(record.joinedAt)), ("last seen", Output.date(node.lastSeen)),
                ("certificate serial", record.certificateSerial ?? "-"), ("config", NodesCommand.config(node.stream)),
                ("revision", "\(node.revision)"),
            ])
            print("")
            Output.table(
                ["SERVICE", "ADDRESS", "PORT", "HEALTHY"],
                node.endpoints.map {
                    [$0.service.description, $0.address.description, "\($0.port)", $0.healthy ? "yes" : "no"]
                },
                empty: "no endpoints"
            )
            guard let refused = record.refusedClaims, !refused.isEmpty else { return }
            print("")
            print("refused claims (the node registered them; the control plane did not accept them):")
            Output.table(
                ["SERVICE", "REASON", "WHY"],
                refused.map { [$0.service.description, $0.reason.rawValue, $0.message] }, empty: "")
        }
    }

    struct SetAddresses: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-addresses",
            abstract: "Fix the addresses a node's endpoints must be at (they were fixed when it joined)."
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The node's name.") var name: String
        @Argument(help: "Its addresses.") var addresses: [String]
        @Option(name: .customLong("if-match"), help: "Only if the node is still at this revision.") var ifMatch: Int64?

        func run() async throws {
            let parsed = try addresses.map { text in
                guard let address = IPAddress(text) else { throw ValidationError("'\(text)' is not an IP address") }
                return address
            }
            let node = try await connection.withClient {
                try await $0.setNodeAddresses(name, addresses: parsed, ifMatch: ifMatch)
            }
            if connection.output == .json { return Output.json(node.value) }
            print("node \(name): addresses \(Output.list(node.value.addresses.map(\.description)))")
        }
    }

    struct Egress: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set what a node does with captured traffic to no mesh service.",
            discussion: "passthrough relays it unchanged, refuse resets it, mesh follows the mesh's setting."
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The node's name.") var name: String
        @Argument(help: "passthrough, refuse or mesh.") var policy: String
        @Option(name: .customLong("if-match"), help: "Only if the node is still at this revision.") var ifMatch: Int64?

        func run() async throws {
            let egress: EgressPolicy?
            switch policy {
            case "mesh": egress = nil
            default:
                guard let value = EgressPolicy(rawValue: policy) else {
                    throw ValidationError("egress '\(policy)': use passthrough, refuse or mesh")
                }
                egress = value
            }
            let node = try await connection.withClient {
                try await $0.setNodeEgress(name, egress: egress, ifMatch: ifMatch)
            }
            if connection.output == .json { return Output.json(node.value) }
            print(
                "node \(name): egress \(node.value.egress?.rawValue ?? "follows the mesh") (revision \(node.revision))")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a node and its endpoints.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The node's name.") var name: String
        @Option(name: .customLong("if-match"), help: "Only if the node is still at this revision.") var ifMatch: Int64?

        func run() async throws {
            try await connection.withClient { try await $0.deleteNode(name, ifMatch: ifMatch) }
            if connection.output == .json { return Output.json(["deleted": name]) }
            print("node \(name) deleted")
        }
    }

    static func config(_ stream: NodeStreamStatus?) -> String {
        guard let stream else { return "-" }
        var text = stream.connected ? "connected" : "disconnected"
        if let acked = stream.ackedVersion { text += ", acked \(acked)" }
        if let sent = stream.sentVersion, sent != stream.ackedVersion { text += ", sent \(sent)" }
        if let nacked = stream.nackedVersion { text += ", NACKED \(nacked)" }
        return text
    }
}

/// `weftctl node token …`: join tokens for new nodes.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Join tokens for nodes.", subcommands: [Token.self]
    )

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One-time join tokens: create, list, revoke.", subcommands: [Create.self, List.self, Revoke.self]
        )

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Make a one-time token with which the named node joins.",
                discussion: "Prints the token (on stdout, alone) once; it is never shown again."
            )
            @OptionGroup var connection: ConnectionOptions
            @Option(help: "The node that may join with it.") var name: String
            @Option(help: "How long it stays valid: 90s, 30m, 1h, 2d.") var ttl: String = "1h"
            @Option(
                name: .customLong("address"),
                help:
                    "The node's address (repeat for several): fixes them, and the join must come from one. Without it the node's own list counts, checked against the address it joins from."
            ) var addresses: [String] = []

            func run() async throws {
                guard let seconds = parseDuration(ttl) else {
                    throw ValidationError("--ttl '\(ttl)': use a duration like 90s, 30m, 1h or 2d")
                }
                let fixed = try addresses.map { text in
                    guard let address = IPAddress(text) else {
                        throw ValidationError("--address '\(text)' is not an IP address")
                    }
                    return address
                }
                let token = try await connection.withClient {
                    try await $0.createJoinToken(
                        node: name, ttlSeconds: seconds, addresses: fixed.isEmpty ? nil : fixed)
                }
                if connection.output == .json { return Output.json(token) }
                print(token.token)
                FileHandle.standardError.write(
                    Data(
                        "join token \(token.id) for node \(token.node), valid until \(Output.date(token.expiresAt)); shown only now\n"
                            .utf8
                    ))
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Every join token and its state.")
            @OptionGroup var connection: ConnectionOptions

            func run() async throws {
                let tokens = try await connection.withClient { try await $0.joinTokens() }
                if connection.output == .json { return Output.json(tokens) }
                Output.table(
                    ["ID", "NODE", "STATE", "EXPIRES", "CREATED BY"],
                    tokens.map { [$0.id, $0.node, $0.state, Output.date($0.expiresAt), $0.createdBy] },
                    empty: "no join tokens"
                )
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a join token.")
            @OptionGroup var connection: ConnectionOptions
            @Argument(help: "The token's id (weftctl node token list).") var id: String

            func run() async throws {
                try await connection.withClient { try await $0.revokeJoinToken(id: id) }
                if connection.output == .json { return Output.json(["revoked": id]) }
                print("join token \(id) revoked")
            }
        }
    }
}
