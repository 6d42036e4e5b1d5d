import ArgumentParser
import WeftAdminClient

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "The mesh at a glance.")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let status = try await connection.withClient { try await $0.status() }
        if connection.output == .json { return Output.json(status) }
        Output.fields([
            ("revision", "\(status.revision)"),
            ("trust domain", status.trustDomain),
            ("weftd version", status.version),
            ("CA fingerprint", status.caFingerprint),
            ("traffic", status.stopAll ? "STOPPED (weftctl mesh resume)" : "flowing"),
            ("default action", status.defaultAction.rawValue),
            ("mesh mode", status.meshMode.rawValue),
            ("egress", status.egress.rawValue),
            ("nodes", "\(status.counts.nodes) (\(status.counts.nodesUp) up)"),
            ("services", "\(status.counts.services)"),
            ("intentions", "\(status.counts.intentions)"),
            ("valid join tokens", "\(status.counts.joinTokensValid)"),
            ("admin tokens", "\(status.counts.adminTokens)"),
            ("undecodable records", "\(status.undecodableRecords.count)"),
        ])
        if !status.undecodableRecords.isEmpty {
            print("")
            print("Left out of config until fixed or deleted (weftd cannot decode them):")
            Output.table(
                ["KIND", "NAME", "REASON"], status.undecodableRecords.map { [$0.kind, $0.name, $0.reason] }, empty: "")
        }
        if !status.nodeStreams.isEmpty {
            print("")
            Output.table(
                ["NODE", "CONNECTED", "SENT", "ACKED", "NACKED"],
                status.nodeStreams.map { stream in
                    [
                        stream.node, stream.connected ? "yes" : "no", stream.sentVersion.map { "\($0)" } ?? "-",
                        stream.ackedVersion.map { "\($0)" } ?? "-",
                        stream.nackedVersion.map { "\($0): \(stream.nackReason ?? "")" } ?? "-",
                    ]
                },
                empty: ""
            )
        }
    }
}
