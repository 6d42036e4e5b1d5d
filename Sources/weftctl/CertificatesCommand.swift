import ArgumentParser
import Foundation
import WeftAdminClient

struct CertificatesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certificates", abstract: "The mesh CA and the certificates it issued.", subcommands: [List.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The CA and every certificate it issued.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let certificates = try await connection.withClient { try await $0.certificates() }
            if connection.output == .json { return Output.json(certificates) }
            let ca = certificates.authority
            Output.fields([
                ("CA subject", ca.subject), ("CA issuer", ca.isRoot ? "(self-signed root)" : ca.issuer),
                ("CA valid until", Output.date(ca.notAfter)), ("CA fingerprint", ca.fingerprint),
                ("trust bundle fingerprint", ca.trustBundleFingerprint), ("trust domain", ca.trustDomain),
            ])
            print("")
            Output.table(
                ["SERIAL", "IDENTITY", "NODE", "NOT AFTER"],
                certificates.issued.map { [$0.serialNumber, $0.identity, $0.node, Output.date($0.notAfter)] },
                empty: "no certificates issued yet"
            )
        }
    }
}
