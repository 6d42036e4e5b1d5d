import ArgumentParser
import Foundation
import WeftAdminClient

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The audit log: who changed what, when (oldest first).",
        discussion: "-o json includes each object's JSON before and after the change."
    )
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Entries after this id (the last id of the previous page).") var after: Int64 = 0
    @Option(help: "At most this many entries (1-1000).") var limit: Int = 100

    func run() async throws {
        let page = try await connection.withClient { try await $0.audit(after: after, limit: limit) }
        if connection.output == .json { return Output.json(page) }
        Output.table(
            ["ID", "TIME", "ACTOR", "ACTION", "OBJECT"],
            page.entries.map { ["\($0.id)", Output.date($0.time), $0.actor, $0.action, "\($0.kind) \($0.key)"] },
            empty: "no audit entries after \(after)"
        )
    }
}
