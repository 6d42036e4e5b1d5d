import ArgumentParser
import Dispatch
import Foundation
import Logging
import WeftControlPlane
import WeftCore

@main
struct Weftd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weftd",
        abstract: "The Weft control plane: registry, CA, intentions and live config for every node.",
        discussion: """
            Settings come from /etc/weft/weftd.toml (or --config), then from these flags. State is a SQLite database in \
            --data-dir unless --postgres-url is given (several weftd may share one PostgreSQL database). On the first \
            start weftd creates the mesh CA and writes a write-scoped admin token to <data-dir>/admin-token (mode 0600).
            """,
        version: WeftVersion.current
    )

    @Option(help: "weftd.toml to read (default: /etc/weft/weftd.toml when it exists).") var config: String?
    @Option(help: "Directory for the SQLite database, the bootstrap admin token and the trust bundle.") var dataDir:
        String?
    @Option(help: "PostgreSQL URL, e.g. postgres://weft@db:5432/weft; replaces SQLite.") var postgresURL: String?
    @Option(help: "SPIFFE trust domain (fixed after the first start).") var trustDomain: String?
    @Option(help: "Node API listener (mTLS), address:port.") var nodeListen: String?
    @Option(help: "Join listener (server TLS), address:port.") var joinListen: String?
    @Option(help: "Admin API listener, address:port.") var adminListen: String?
    @Flag(help: "Serve the admin API without TLS (loopback only).") var adminPlaintext = false
    @Option(help: "Extra DNS name or IP for weftd's certificate (repeatable).") var serverName: [String] = []
    @Option(help: "Default workload certificate lifetime, e.g. 24h (at least 1m).") var workloadCertificateTTL: String?
    @Option(help: "A node silent for this long is marked down, e.g. 60s.") var nodeTimeout: String?
    @Option(help: "How often connected nodes are recorded as seen, e.g. 5s.") var heartbeatInterval: String?
    @Option(help: "trace, debug, info, notice, warning, error.") var logLevel: String = "info"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level: unknown level '\(logLevel)'")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let settings = try loadConfiguration()
        let logger = Logger(label: "weftd")
        let server = Task {
            try await ControlPlane.run(configuration: settings, logger: logger) { ready in
                let scheme = ready.adminTLS ? "https" : "http"
                var line =
                    "weftd ready node=\(ready.nodeListener) join=\(ready.joinListener) admin=\(scheme)://\(ready.adminListener)"
                line += " trust_domain=\(ready.trustDomain) trust_bundle=\(ready.trustBundleFile)"
                if let token = ready.bootstrapTokenFile { line += " bootstrap_token=\(token)" }
                // Unbuffered: scripts wait for this line on a pipe.
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
        }
        // SIGTERM (systemd stop) and SIGINT stop weftd cleanly: listeners close, the store is closed.
        let signalSources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { server.cancel() }
            source.resume()
            return source
        }
        defer { signalSources.forEach { $0.cancel() } }
        do {
            try await server.value
        } catch {
            // Errors while stopping are part of stopping; any other error is weftd failing.
            guard server.isCancelled else { throw error }
        }
        logger.notice("weftd stopped")
    }

    func loadConfiguration() throws -> ControlPlaneConfiguration {
        var settings = ControlPlaneConfiguration()
        let path = config ?? ControlPlaneConfiguration.defaultPath
        if config != nil || FileManager.default.fileExists(atPath: path) {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("cannot read \(path)")
            }
            do { try settings.apply(toml: text, path: path) } catch { throw ValidationError(error.description) }
        }
        func address(_ text: String?, _ flag: String) throws -> IPSocketAddress? {
            guard let text else { return nil }
            guard let parsed = IPSocketAddress(text) else {
                throw ValidationError("\(flag): '\(text)' is not address:port or [address]:port")
            }
            return parsed
        }
        func duration(_ text: String?, _ flag: String) throws -> Duration? {
            guard let text else { return nil }
            do { return try DurationText.parse(text) } catch { throw ValidationError("\(flag): \(error.description)") }
        }
        if let dataDir { settings.dataDirectory = dataDir }
        if let postgresURL { settings.postgresURL = postgresURL }
        if let trustDomain { settings.registry.trustDomain = trustDomain }
        if let value = try address(nodeListen, "--node-listen") { settings.nodeListen = value }
        if let value = try address(joinListen, "--join-listen") { settings.joinListen = value }
        if let value = try address(adminListen, "--admin-listen") { settings.adminListen = value }
        if adminPlaintext { settings.adminPlaintext = true }
        settings.serverNames += serverName
        if let value = try duration(workloadCertificateTTL, "--workload-certificate-ttl") {
            settings.registry.workloadCertificateTTL = value
        }
        if let value = try duration(nodeTimeout, "--node-timeout") { settings.registry.nodeTimeout = value }
        if let value = try duration(heartbeatInterval, "--heartbeat-interval") { settings.heartbeatInterval = value }
        do { try settings.validate() } catch { throw ValidationError(error.description) }
        return settings
    }
}
