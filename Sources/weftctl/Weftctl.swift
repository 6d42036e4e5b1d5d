import ArgumentParser
import WeftCore

/// The admins' CLI over weftd's admin API.
@main
struct Weftctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weftctl",
        abstract: "Manage a Weft mesh: nodes, services, intentions, telemetry, certificates.",
        discussion: """
            weftctl talks to weftd's admin API. It finds the address, token and CA file in its flags (--addr, \
            --token, --ca-file), then in WEFT_ADDR, WEFT_TOKEN and WEFT_CA_FILE, then in ~/.config/weft/config \
            (TOML: addr = "…", token = "…", ca_file = "…"). Every command prints a table for people, or JSON \
            with -o json.
            """,
        version: WeftVersion.current,
        subcommands: [
            StatusCommand.self, NodesCommand.self, NodeCommand.self, ServicesCommand.self, IntentionCommand.self,
            MeshCommand.self, TelemetryCommand.self, CertificatesCommand.self, AdminTokensCommand.self,
            AuditCommand.self,
        ]
    )
}
