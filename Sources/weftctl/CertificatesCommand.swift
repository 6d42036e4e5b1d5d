import ArgumentParser
import Foundation
import WeftAdminClient

struct CertificatesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certificates", abstract: "The mesh CA and the certificates it issued.",
        subcommands: [List.self, Revoke.self]
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
            let revoked = Dictionary(
                certificates.revoked.map { ($0.serialNumber, $0) }, uniquingKeysWith: { a, _ in a })
            Output.table(
                ["SERIAL", "IDENTITY", "NODE", "NOT AFTER", "REVOKED"],
                certificates.issued.map {
                    [
                        $0.serialNumber, $0.identity, $0.node, Output.date($0.notAfter),
                        revoked[$0.serialNumber].map { "\(Output.date($0.revokedAt)) (\($0.reason.rawValue))" } ?? "-",
                    ]
                },
                empty: "no certificates issued yet"
            )
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a certificate: every node refuses it and closes connections made with it.",
            discussion:
                "Takes effect on every node with the next config push (about a second). Deleting a node revokes its certificates itself."
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The serial number, as `weftctl certificates list` shows it.") var serial: String

        func run() async throws {
            let revoked = try await connection.withClient { try await $0.revokeCertificate(serial: serial) }
            if connection.output == .json { return Output.json(revoked) }
            print("revoked certificate \(revoked.serialNumber) of \(revoked.identity) (node \(revoked.node))")
        }
    }
}
