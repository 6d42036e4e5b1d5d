import ArgumentParser
import Foundation
import WeftAdminClient
import WeftCore

struct ServicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "services", abstract: "Services: list, show, define (put), delete, placement.",
        subcommands: [List.self, Show.self, Put.self, Delete.self, AllowNode.self, DisallowNode.self],
        aliases: ["service"]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every service: discovered, admin-defined and external.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let services = try await connection.withClient { try await $0.services() }
            if connection.output == .json { return Output.json(services) }
            Output.table(
                ["NAME", "PROTOCOL", "PORTS", "VIP", "ORIGIN", "EXTERNAL", "REVISION"],
                services.map { item in
                    let service = item.value
                    return [
                        service.name.description, service.protocol.rawValue, Output.list(service.ports.map { "\($0)" }),
                        service.vip?.description ?? "-", service.origin.rawValue,
                        Output.list(service.externalAddresses.map(\.description)), "\(item.revision)",
                    ]
                },
                empty: "no services"
            )
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One service.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "name or namespace/name.") var name: String

        func run() async throws {
            let serviceName = try parseServiceName(name)
            let service = try await connection.withClient { try await $0.service(serviceName) }
            if connection.output == .json { return Output.json(service) }
            ServicesCommand.show(service)
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Define (or replace) a service; with --external, a name for addresses outside the mesh.",
            discussion: "Replaces the whole definition: flags left out take their defaults. The VIP is kept."
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "name or namespace/name.") var name: String
        @Option(name: .customLong("port"), help: "A port (repeat for several).") var ports: [UInt16] = []
        @Option(name: .customLong("protocol"), help: "tcp, http, http2 or grpc.") var serviceProtocol: String = "tcp"
        @Option(
            name: .customLong("external"),
            help: "ADDR:PORT outside the mesh (repeat for several); makes it an external service.")
        var external: [String] = []
        @Option(name: .customLong("label"), help: "key=value (repeat for several).") var labels: [String] = []
        @Option(name: .customLong("mesh-mode"), help: "strict or permissive for this service's ports.") var meshMode:
            String?
        @Option(
            name: .customLong("if-match"),
            help: "Only if the service is still at this revision (0: only if it does not exist).")
        var ifMatch: Int64?

        func run() async throws {
            let serviceName = try parseServiceName(name)
            guard let proto = ServiceProtocol(rawValue: serviceProtocol) else {
                throw ValidationError("--protocol '\(serviceProtocol)': use tcp, http, http2 or grpc")
            }
            var addresses: [IPSocketAddress] = []
            for text in external {
                guard let address = IPSocketAddress(text) else {
                    throw ValidationError(
                        "--external '\(text)': use address:port, e.g. 198.18.0.20:5432 or [2001:2::1]:443")
                }
                addresses.append(address)
            }
            var labelMap: [String: String] = [:]
            for text in labels {
                let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty else {
                    throw ValidationError("--label '\(text)': use key=value")
                }
                labelMap[parts[0]] = parts[1]
            }
            var mode: MeshMode?
            if let meshMode {
                guard let value = MeshMode(rawValue: meshMode) else {
                    throw ValidationError("--mesh-mode '\(meshMode)': use strict or permissive")
                }
                mode = value
            }
            let record = ServiceRecord(
                name: serviceName, protocol: proto, ports: ports, labels: labelMap,
                origin: addresses.isEmpty ? .admin : .external,
                externalAddresses: addresses, meshMode: mode
            )
            let stored = try await connection.withClient { try await $0.putService(record, ifMatch: ifMatch) }
            if connection.output == .json { return Output.json(stored) }
            ServicesCommand.show(stored)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a service and free its VIP.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "name or namespace/name.") var name: String
        @Option(name: .customLong("if-match"), help: "Only if the service is still at this revision.") var ifMatch:
            Int64?

        func run() async throws {
            let serviceName = try parseServiceName(name)
            try await connection.withClient { try await $0.deleteService(serviceName, ifMatch: ifMatch) }
            if connection.output == .json { return Output.json(["deleted": serviceName.description]) }
            print("service \(serviceName) deleted")
        }
    }

    struct AllowNode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "allow-node", abstract: "Let another node serve a service and call as it.",
            discussion:
                "The first node that registers a service owns it; any other node's endpoints and certificates for it are refused (weftctl nodes show NODE lists them) until it is allowed here."
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "name or namespace/name.") var service: String
        @Argument(help: "The node's name.") var node: String

        func run() async throws {
            let serviceName = try parseServiceName(service)
            let stored = try await connection.withClient { try await $0.allowNode(node, for: serviceName) }
            if connection.output == .json { return Output.json(stored) }
            print("service \(serviceName): placed on \(Output.list(stored.value.placement ?? []))")
        }
    }

    struct DisallowNode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "disallow-node",
            abstract: "Take a node out of a service's placement; its endpoints of the service are withdrawn now."
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "name or namespace/name.") var service: String
        @Argument(help: "The node's name.") var node: String

        func run() async throws {
            let serviceName = try parseServiceName(service)
            let stored = try await connection.withClient { try await $0.disallowNode(node, for: serviceName) }
            if connection.output == .json { return Output.json(stored) }
            print("service \(serviceName): placed on \(Output.list(stored.value.placement ?? []))")
        }
    }

    static func show(_ item: Revisioned<ServiceRecord>) {
        let service = item.value
        Output.fields([
            ("name", service.name.description), ("protocol", service.protocol.rawValue),
            ("ports", Output.list(service.ports.map { "\($0)" })), ("vip", service.vip?.description ?? "-"),
            ("origin", service.origin.rawValue), ("nodes", Output.list(service.placement ?? [])),
            ("external", Output.list(service.externalAddresses.map(\.description))),
            ("labels", Output.list(service.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })),
            ("mesh mode", service.meshMode?.rawValue ?? "mesh default"), ("revision", "\(item.revision)"),
        ])
    }
}
