import ArgumentParser
import WeftControlPlane
import WeftCore
import WeftLogging

@main
struct Weftd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weftd",
        abstract: "The Weft control plane: registry, CA, intentions and live config for every node.",
        discussion: """
            Settings come from /etc/weft/weftd.toml (or --config), then from these flags. State is a SQLite database in \
            --data-dir unless --postgres-url is given (several weftd may share one PostgreSQL database). On the first \
            start weftd creates the mesh CA and writes an admin-scoped token to <data-dir>/admin-token (mode 0600).
            """,
        version: WeftVersion.current
    )

    @Option(help: "weftd.toml to read (default: /etc/weft/weftd.toml when it exists).") var config: String?
    @Option(help: "Directory for the SQLite database, the bootstrap admin token and the trust bundle.") var dataDir:
        String?
    @Option(
        help:
            "PostgreSQL URL, e.g. postgres://weft@db:5432/weft?sslrootcert=/etc/weft/pg-ca.pem (TLS verify-full unless sslmode= says otherwise); replaces SQLite."
    )
    var postgresURL: String?
    @Option(help: "SPIFFE trust domain (fixed after the first start).") var trustDomain: String?
    @Option(help: "Node API listener (mTLS), address:port.") var nodeListen: String?
    @Option(help: "Join listener (server TLS), address:port.") var joinListen: String?
    @Option(help: "Admin API listener, address:port.") var adminListen: String?
    @Flag(help: "Serve the admin API without TLS (loopback only).") var adminPlaintext = false
    @Option(help: "Extra DNS name or IP for weftd's certificate (repeatable).") var serverName: [String] = []
    @Option(help: "Default workload certificate lifetime, e.g. 24h (at least 1m).") var workloadCertificateTTL: String?
    @Option(help: "A node silent for this long is marked down, e.g. 60s.") var nodeTimeout: String?
    @Option(help: "How often connected nodes are recorded as seen, e.g. 5s.") var heartbeatInterval: String?
    @Option(help: "32-byte key sealing the generated CA's private key in the store (default: <data-dir>/ca-kek).")
    var caKeyEncryptionKeyFile: String?
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel: String = "info"
    @Option(help: "text, or json (one object a line); under journald each line carries its priority.") var logFormat:
        String = "text"

    func run() async throws {
        var flags = ControlPlaneFlags()
        flags.config = config
        flags.dataDirectory = dataDir
        flags.postgresURL = postgresURL
        flags.trustDomain = trustDomain
        flags.nodeListen = nodeListen
        flags.joinListen = joinListen
        flags.adminListen = adminListen
        flags.adminPlaintext = adminPlaintext
        flags.serverNames = serverName
        flags.workloadCertificateTTL = workloadCertificateTTL
        flags.nodeTimeout = nodeTimeout
        flags.heartbeatInterval = heartbeatInterval
        flags.caKeyEncryptionKeyFile = caKeyEncryptionKeyFile
        let logging: LoggingSettings
        do { logging = try LoggingSettings(level: logLevel, format: logFormat) } catch {
            throw ValidationError(error.description)
        }
        try await WeftdCommand.run(flags: flags, logging: logging)
    }
}
