import Foundation
import WeftCore

/// How weftd runs: where state lives, what it listens on, and the registry's knobs. Read from `/etc/weft/weftd.toml`
/// (or `--config`), then overridden by flags.
public struct ControlPlaneConfiguration: Sendable {
    /// SQLite database, bootstrap admin token and the CA's trust bundle copy live here.
    public var dataDirectory = "/var/lib/weft"
    /// Use PostgreSQL (several replicas) instead of SQLite.
    public var postgresURL: String?
    public var registry = RegistryConfiguration()
    public var nodeListen = IPSocketAddress(address: .v4(0), port: 15012)
    public var joinListen = IPSocketAddress(address: .v4(0), port: 15013)
    public var adminListen = IPSocketAddress(address: .v4(0), port: 15443)
    /// Serve the admin API without TLS; only allowed on a loopback address.
    public var adminPlaintext = false
    /// Extra DNS names and IP addresses for weftd's server certificate (local addresses are always in it).
    public var serverNames: [String] = []
    /// The user's own CA instead of a generated root.
    public var authorityFiles: AuthorityLoader.Files?
    /// How often connected nodes are recorded as seen and silent nodes marked down.
    public var heartbeatInterval: Duration = .seconds(5)

    public init() {}

    public static let defaultPath = "/etc/weft/weftd.toml"

    public var sqlitePath: String { (dataDirectory as NSString).appendingPathComponent("weft.db") }
    public var bootstrapTokenPath: String { (dataDirectory as NSString).appendingPathComponent("admin-token") }
    public var trustBundlePath: String { (dataDirectory as NSString).appendingPathComponent("trust-bundle.pem") }

    public struct Error: Swift.Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Applies the settings of a weftd.toml; unknown keys are errors (a typo must not silently do nothing).
    public mutating func apply(toml text: String, path: String) throws(Error) {
        let table: TOMLTable
        do { table = try TOML.parse(text) } catch { throw Error(message: "\(path): \(error)") }
        func fail(_ key: String, _ reason: String) -> Error {
            Error(message: "\(path):\(table.line(of: key) ?? 1): \(key): \(reason)")
        }
        func string(_ key: String) throws(Error) -> String {
            guard let value = table[key]?.string else { throw fail(key, "must be a string") }
            return value
        }
        func address(_ key: String) throws(Error) -> IPSocketAddress {
            let text = try string(key)
            guard let parsed = IPSocketAddress(text) else {
                throw fail(key, "'\(text)' is not address:port or [address]:port")
            }
            return parsed
        }
        func duration(_ key: String) throws(Error) -> Duration {
            do { return try DurationText.parse(try string(key)) } catch let error as DurationText.ParseError {
                throw fail(key, error.description)
            } catch { throw error as! Error }
        }
        for key in table.keys {
            switch key {
            case "data_dir": dataDirectory = try string(key)
            case "postgres_url":
                let url = try string(key)
                postgresURL = url.isEmpty ? nil : url
            case "trust_domain": registry.trustDomain = try string(key)
            case "vip_range":
                let text = try string(key)
                do { registry.vipRange = try IPCIDR(text) } catch { throw fail(key, "\(error)") }
            case "workload_certificate_ttl": registry.workloadCertificateTTL = try duration(key)
            case "node_certificate_ttl": registry.nodeCertificateTTL = try duration(key)
            case "node_timeout": registry.nodeTimeout = try duration(key)
            case "heartbeat_interval": heartbeatInterval = try duration(key)
            case "node_listen": nodeListen = try address(key)
            case "join_listen": joinListen = try address(key)
            case "admin_listen": adminListen = try address(key)
            case "admin_plaintext":
                guard let value = table[key]?.boolean else { throw fail(key, "must be true or false") }
                adminPlaintext = value
            case "server_names":
                guard let values = table[key]?.array?.compactMap(\.string), values.count == table[key]?.array?.count
                else {
                    throw fail(key, "must be a list of strings")
                }
                serverNames = values
            case "ca_certificate", "ca_private_key", "ca_intermediates":
                continue
            default:
                throw fail(
                    key,
                    "unknown setting (known: data_dir, postgres_url, trust_domain, vip_range, workload_certificate_ttl, node_certificate_ttl, node_timeout, heartbeat_interval, node_listen, join_listen, admin_listen, admin_plaintext, server_names, ca_certificate, ca_private_key, ca_intermediates)"
                )
            }
        }
        let certificate = table["ca_certificate"]?.string
        let key = table["ca_private_key"]?.string
        if (certificate == nil) != (key == nil) {
            throw fail(
                certificate == nil ? "ca_private_key" : "ca_certificate", "give both ca_certificate and ca_private_key")
        }
        if let certificate, let key {
            authorityFiles = AuthorityLoader.Files(
                certificate: certificate, privateKey: key, intermediates: table["ca_intermediates"]?.string)
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
    }
}
