import Foundation
import NIOSSL
import PostgresNIO

#if canImport(Glibc)
    import Glibc
#endif

/// Where a PostgreSQL store lives, parsed from a libpq-style URL:
///
/// - `postgres://user:password@host:port/database` (TCP; port 5432 when omitted)
/// - `postgres:///database?host=/unix/socket/dir` (a unix socket: `dir/.s.PGSQL.<port>`, as libpq looks for it)
///
/// `postgresql://` is accepted too. Query parameters: `host`, `port`, `user`, `password`, `sslmode`, `sslrootcert`,
/// `application_name`. Anything else is refused, naming the parameter. Without a user name the OS user's name is used,
/// as libpq does. Percent-encode reserved characters in the password.
///
/// TLS over TCP (unix sockets are always plaintext): `sslmode` is `verify-full` when not given — TLS, the server's
/// certificate chain verified against the trust roots and its name (or IP address) against the URL's host.
/// `verify-ca` verifies the chain only; `require` means `verify-full` (stricter than libpq: weftd never trusts an
/// unverified server); `prefer` (or `allow`) uses TLS when the server offers it, verified as `verify-full`, and
/// plaintext otherwise; `disable` never uses TLS. `sslrootcert=/path/ca.pem` names a PEM bundle used as the only
/// trust roots (default, or `sslrootcert=system`: the system's roots).
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file itself, e.g. `/run/postgresql/.s.PGSQL.5432`.
        case unixSocket(path: String)
    }

    public enum TLSMode: String, Sendable, Equatable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String
    /// Ignored for unix sockets (always plaintext).
    public var tlsMode: TLSMode
    /// A PEM bundle of the trust roots for the server's certificate; the system's roots when nil.
    public var rootCertificatePath: String?
    /// What `pg_stat_activity` shows for the store's sessions; `weftd` when nil. The LISTEN session adds ` listen`.
    public var applicationName: String?

    public init(
        endpoint: Endpoint, username: String, password: String? = nil, database: String,
        tlsMode: TLSMode = .verifyFull, rootCertificatePath: String? = nil, applicationName: String? = nil
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.tlsMode = tlsMode
        self.rootCertificatePath = rootCertificatePath
        self.applicationName = applicationName
    }

    public init(_ string: String) throws(StoreError) {
        func invalid(_ reason: String) -> StoreError {
            .invalidConfiguration("PostgreSQL URL \(Self.redacted(string)): \(reason)")
        }
        guard let schemeEnd = string.range(of: "://") else {
            throw invalid(
                "expected postgres://user:password@host:port/database or postgres:///database?host=/socket/dir")
        }
        let scheme = string[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw invalid("the scheme must be postgres:// or postgresql://, not \(scheme)://")
        }
        guard let components = URLComponents(string: string) else {
            throw invalid("not a valid URL (percent-encode reserved characters such as @ / : ? # in the password)")
        }
        if components.fragment != nil {
            throw invalid("a URL fragment (#…) means nothing here; percent-encode # in a password as %23")
        }

        var parameters: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard let value = item.value, !value.isEmpty else {
                throw invalid("the parameter '\(item.name)' has no value")
            }
            guard parameters[item.name] == nil else { throw invalid("the parameter '\(item.name)' is given twice") }
            parameters[item.name] = value
        }
        let known: Set<String> = [
            "host", "port", "user", "password", "sslmode", "sslrootcert", "application_name",
        ]
        if let unknown = parameters.keys.sorted().first(where: { !known.contains($0) }) {
            throw invalid("unknown parameter '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }

        let urlHost = components.percentEncodedHost
            .flatMap { $0.removingPercentEncoding }
            .map { $0.hasPrefix("[") && $0.hasSuffix("]") ? String($0.dropFirst().dropLast()) : $0 }
            .flatMap { $0.isEmpty ? nil : $0 }
        if urlHost != nil, parameters["host"] != nil {
            throw invalid("the host is given twice (in the URL and as ?host=)")
        }
        let host = urlHost ?? parameters["host"]

        var port = 5432
        if let urlPort = components.port {
            port = urlPort
        }
        if let value = parameters["port"] {
            guard components.port == nil else { throw invalid("the port is given twice (in the URL and as ?port=)") }
            guard let parsed = Int(value) else { throw invalid("the port '\(value)' is not a number") }
            port = parsed
        }
        guard (1...65535).contains(port) else { throw invalid("the port \(port) is out of range 1…65535") }

        let database = String(components.percentEncodedPath.drop(while: { $0 == "/" })).removingPercentEncoding ?? ""
        guard !database.isEmpty else { throw invalid("no database name (…/DATABASE)") }
        guard !database.contains("/") else { throw invalid("the database name '\(database)' contains '/'") }

        let urlUser = components.percentEncodedUser.flatMap { $0.removingPercentEncoding }.flatMap {
            $0.isEmpty ? nil : $0
        }
        if urlUser != nil, parameters["user"] != nil {
            throw invalid("the user is given twice (in the URL and as ?user=)")
        }
        guard let username = urlUser ?? parameters["user"] ?? Self.osUserName() else {
            throw invalid("no user name, and the OS user has none")
        }
        let urlPassword = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        if urlPassword != nil, parameters["password"] != nil {
            throw invalid("the password is given twice (in the URL and as ?password=)")
        }
        let password = urlPassword ?? parameters["password"]

        var tlsMode = TLSMode.verifyFull
        if let mode = parameters["sslmode"] {
            switch mode {
            case "disable": tlsMode = .disable
            case "allow", "prefer": tlsMode = .prefer
            case "require": tlsMode = .require
            case "verify-ca": tlsMode = .verifyCA
            case "verify-full": tlsMode = .verifyFull
            default:
                throw invalid(
                    "sslmode '\(mode)' is not one of disable, allow, prefer, require, verify-ca, verify-full")
            }
        }
        var rootCertificatePath = parameters["sslrootcert"]
        if rootCertificatePath == "system" {
            rootCertificatePath = nil
        } else if let path = rootCertificatePath, !path.hasPrefix("/") {
            throw invalid("sslrootcert '\(path)' is not an absolute path (or 'system')")
        }

        let endpoint: Endpoint
        switch host {
        case nil:
            throw invalid("no host: postgres://user@HOST:PORT/database, or postgres:///database?host=/socket/dir")
        case let directory? where directory.hasPrefix("/"):
            if let mode = parameters["sslmode"], tlsMode != .disable, tlsMode != .prefer {
                throw invalid("sslmode=\(mode) cannot be met on a unix socket (always plaintext)")
            }
            endpoint = .unixSocket(path: (directory.hasSuffix("/") ? directory : directory + "/") + ".s.PGSQL.\(port)")
        case let host?:
            endpoint = .tcp(host: host, port: port)
        }
        self.init(
            endpoint: endpoint, username: username, password: password, database: database, tlsMode: tlsMode,
            rootCertificatePath: rootCertificatePath, applicationName: parameters["application_name"]
        )
    }

    /// The URL without its password.
    public var description: String {
        let user = username.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed) ?? username
        let db = database.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? database
        switch endpoint {
        case .tcp(let host, let port):
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "postgres://\(user)@\(shownHost):\(port)/\(db)"
                + (tlsMode == .verifyFull ? "" : "?sslmode=\(tlsMode.rawValue)")
        case .unixSocket(let path):
            return "postgres://\(user)@/\(db)?host=\(path)"
        }
    }

    /// The same server and credentials, another database.
    public func withDatabase(_ database: String) -> PostgresURL {
        var copy = self
        copy.database = database
        return copy
    }

    // MARK: PostgresNIO configurations

    func clientConfiguration() throws(StoreError) -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch endpoint {
        case .tcp(let host, let port):
            let tls: PostgresClient.Configuration.TLS =
                switch tlsMode {
                case .disable: .disable
                case .prefer: .prefer(try tlsConfiguration())
                case .require, .verifyCA, .verifyFull: .require(try tlsConfiguration())
                }
            configuration = .init(
                host: host, port: port, username: username, password: password, database: database, tls: tls
            )
        case .unixSocket(let path):
            configuration = .init(unixSocketPath: path, username: username, password: password, database: database)
        }
        configuration.options.additionalStartupParameters = [("application_name", applicationName ?? "weftd")]
        return configuration
    }

    func connectionConfiguration() throws(StoreError) -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch endpoint {
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS
            if tlsMode == .disable {
                tls = .disable
            } else {
                let context: NIOSSLContext
                do { context = try NIOSSLContext(configuration: try tlsConfiguration()) } catch {
                    throw .invalidConfiguration("PostgreSQL TLS: \(error)")
                }
                tls = tlsMode == .prefer ? .prefer(context) : .require(context)
            }
            configuration = .init(
                host: host, port: port, username: username, password: password, database: database, tls: tls
            )
        case .unixSocket(let path):
            configuration = .init(unixSocketPath: path, username: username, password: password, database: database)
        }
        configuration.options.additionalStartupParameters = [("application_name", applicationName ?? "weftd")]
        return configuration
    }

    /// The client TLS settings for `tlsMode` and `rootCertificatePath`; reads the root bundle.
    func tlsConfiguration() throws(StoreError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = tlsMode == .verifyCA ? .noHostnameVerification : .fullVerification
        if let path = rootCertificatePath {
            let roots: [NIOSSLCertificate]
            do { roots = try NIOSSLCertificate.fromPEMFile(path) } catch {
                throw .invalidConfiguration(
                    "sslrootcert \(path): cannot be read as PEM certificates (\(error)); give the CA bundle that signed the server's certificate"
                )
            }
            guard !roots.isEmpty else {
                throw .invalidConfiguration("sslrootcert \(path): holds no PEM certificate")
            }
            tls.trustRoots = .certificates(roots)
        }
        return tls
    }

    // MARK: Helpers

    /// `string` with its passwords (between `://user:` and `@`, and `password=` parameters) replaced, for error
    /// messages.
    static func redacted(_ string: String) -> String {
        var result = string
        if let schemeEnd = result.range(of: "://"),
            let at = result[schemeEnd.upperBound...].lastIndex(of: "@"),
            let colon = result[schemeEnd.upperBound..<at].firstIndex(of: ":")
        {
            result.replaceSubrange(result.index(after: colon)..<at, with: "***")
        }
        if let query = result.firstIndex(of: "?") {
            let parameters = result[result.index(after: query)...].split(
                separator: "&", omittingEmptySubsequences: false
            )
            .map { $0.hasPrefix("password=") ? "password=***" : String($0) }
            result = result[...query] + parameters.joined(separator: "&")
        }
        return result
    }

    private static func osUserName() -> String? {
        guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return nil }
        return String(cString: name)
    }
}
