import Foundation
import WeftCore

/// How weftd runs: where state lives, what it listens on, and the registry's knobs. Read from `/etc/weft/weftd.toml`
/// (or `--config`), then overridden by flags.
public struct ControlPlaneConfiguration: Sendable {
    /// SQLite database, bootstrap admin token and the CA's trust bundle copy live here.
    public var dataDirectory = "/var/lib/weftd"
    /// Use PostgreSQL (several replicas) instead of SQLite.
    public var postgresURL: String?
    public var registry = RegistryConfiguration()
    public var nodeListen = IPSocketAddress(address: .v4(0), port: WeftPort.nodeAPI.rawValue)
    public var joinListen = IPSocketAddress(address: .v4(0), port: WeftPort.join.rawValue)
    public var adminListen = IPSocketAddress(address: .v4(0), port: WeftPort.adminAPI.rawValue)
    /// Serve the admin API without TLS; only allowed on a loopback address.
    public var adminPlaintext = false
    /// Extra DNS names and IP addresses for weftd's server certificate (local addresses are always in it).
    public var serverNames: [String] = []
    /// The user's own CA instead of a generated root.
    public var authorityFiles: AuthorityLoader.Files?
    /// The 32-byte key that seals the generated CA's private key in the store; `<data-dir>/ca-kek` (created on
    /// the first start) when nil. Every replica sharing a PostgreSQL database needs the same key.
    public var caKeyEncryptionKeyFile: String?
    /// How often connected nodes are recorded as seen and silent nodes marked down.
    public var heartbeatInterval: Duration = .seconds(5)
    /// How long audit entries are kept; nil keeps them forever (weftd.toml: `audit_retention = "forever"` or `"0"`).
    public var auditRetention: Duration? = Retention.defaultAuditRetention

    public init() {}

    public static let defaultPath = "/etc/weft/weftd.toml"

    public var sqlitePath: String { (dataDirectory as NSString).appendingPathComponent("weft.db") }
    public var bootstrapTokenPath: String { (dataDirectory as NSString).appendingPathComponent("admin-token") }
    public var trustBundlePath: String { (dataDirectory as NSString).appendingPathComponent("trust-bundle.pem") }
    /// The key-encryption key file weftd uses: the configured one (which must exist), or `<data-dir>/ca-kek`
    /// (made when missing and nothing is sealed yet).
    public var caKeyFile: AuthorityLoader.KeyFile {
        if let caKeyEncryptionKeyFile { return AuthorityLoader.KeyFile(path: caKeyEncryptionKeyFile, mayCreate: false) }
        return AuthorityLoader.KeyFile(
            path: (dataDirectory as NSString).appendingPathComponent("ca-kek"), mayCreate: true)
    }

    public struct Error: Swift.Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Applies the settings of a weftd.toml; unknown keys are errors (a typo must not silently do nothing).
    public mutating func apply(toml text: String, path: String) throws(SettingsError) {
        var reader = try SettingsReader(parsing: text, file: path)
        dataDirectory = try reader.string("data_dir") ?? dataDirectory
        if let url = try reader.string("postgres_url") { postgresURL = url.isEmpty ? nil : url }
        registry.trustDomain = try reader.string("trust_domain") ?? registry.trustDomain
        registry.vipRange = try reader.cidr("vip_range") ?? registry.vipRange
        registry.workloadCertificateTTL =
            try reader.duration("workload_certificate_ttl") ?? registry.workloadCertificateTTL
        registry.nodeCertificateTTL = try reader.duration("node_certificate_ttl") ?? registry.nodeCertificateTTL
        registry.nodeTimeout = try reader.duration("node_timeout") ?? registry.nodeTimeout
        heartbeatInterval = try reader.duration("heartbeat_interval") ?? heartbeatInterval
        if let text = try reader.string("audit_retention") {
            if text == "forever" {
                auditRetention = nil
            } else {
                let duration: Duration
                do { duration = try DurationText.parse(text) } catch {
                    throw reader.error("audit_retention", "\(error.description), or \"forever\"")
                }
                auditRetention = duration == .zero ? nil : duration
            }
        }
        nodeListen = try reader.socketAddress("node_listen") ?? nodeListen
        joinListen = try reader.socketAddress("join_listen") ?? joinListen
        adminListen = try reader.socketAddress("admin_listen") ?? adminListen
        adminPlaintext = try reader.boolean("admin_plaintext") ?? adminPlaintext
        serverNames = try reader.strings("server_names") ?? serverNames
        let certificate = try reader.string("ca_certificate")
        let key = try reader.string("ca_private_key")
        let intermediates = try reader.string("ca_intermediates")
        if let file = try reader.string("ca_key_encryption_key_file") {
            caKeyEncryptionKeyFile = file.isEmpty ? nil : file
        }
        try reader.finish()
        switch (certificate, key) {
        case (let certificate?, let key?):
            authorityFiles = AuthorityLoader.Files(
                certificate: certificate, privateKey: key, intermediates: intermediates)
        case (nil, nil):
            break
        case (nil, _?):
            throw reader.error("ca_private_key", "give both ca_certificate and ca_private_key")
        case (_?, nil):
            throw reader.error("ca_certificate", "give both ca_certificate and ca_private_key")
        }
    }

    /// Throws the first setting that cannot work.
    public func validate() throws(Error) {
        do { try registry.validate() } catch { throw Error(message: error.description) }
        if adminPlaintext && !adminListen.address.isLoopback {
            throw Error(
                message: "admin_plaintext: a plaintext admin API may only listen on loopback, not \(adminListen)")
        }
        if heartbeatInterval < .milliseconds(100) { throw Error(message: "heartbeat_interval: must be at least 100ms") }
        if let auditRetention, auditRetention < .seconds(3600) {
            throw Error(message: "audit_retention: keep at least 1h of audit entries, or \"forever\"")
        }
    }
}
