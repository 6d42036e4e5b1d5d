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
/// `postgresql://` is accepted too. Query parameters: `host`, `port`, `user`, `password`, `sslmode`
/// (`disable`, `prefer` (default for TCP), `require`; `verify-ca` and `verify-full` mean `require`: the server's
/// certificate is always verified when TLS is used), `application_name`. Anything else is refused, naming the parameter.
/// Without a user name the OS user's name is used, as libpq does. Percent-encode reserved characters in the password.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file itself, e.g. `/run/postgresql/.s.PGSQL.5432`.
        case unixSocket(path: String)
    }

    public enum TLSMode: String, Sendable, Equatable {
        case disable, prefer, require
    }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String
    /// Ignored for unix sockets (always plaintext).
    public var tlsMode: TLSMode
    /// What `pg_stat_activity` shows for the store's sessions; `weftd` when nil. The LISTEN session adds ` listen`.
    public var applicationName: String?

    public init(
        endpoint: Endpoint, username: String, password: String? = nil, database: String, tlsMode: TLSMode = .prefer,
        applicationName: String? = nil
    ) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.tlsMode = tlsMode
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
        let known: Set<String> = ["host", "port", "user", "password", "sslmode", "application_name"]
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

        var tlsMode = TLSMode.prefer
        if let mode = parameters["sslmode"] {
            switch mode {
            case "disable": tlsMode = .disable
            case "allow", "prefer": tlsMode = .prefer
            case "require", "verify-ca", "verify-full": tlsMode = .require
            default: throw invalid("sslmode '\(mode)' is not one of disable, prefer, require, verify-ca, verify-full")
            }
        }

        let endpoint: Endpoint
        switch host {
        case nil:
            throw invalid("no host: postgres://user@HOST:PORT/database, or postgres:///database?host=/socket/dir")
        case let directory? where directory.hasPrefix("/"):
            if parameters["sslmode"] != nil, tlsMode == .require {
                throw invalid("sslmode=\(parameters["sslmode"]!) cannot be met on a unix socket")
            }
            endpoint = .unixSocket(path: (directory.hasSuffix("/") ? directory : directory + "/") + ".s.PGSQL.\(port)")
        case let host?:
            endpoint = .tcp(host: host, port: port)
        }
        self.init(
            endpoint: endpoint, username: username, password: password, database: database, tlsMode: tlsMode,
            applicationName: parameters["application_name"]
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

    func clientConfiguration() -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        switch endpoint {
        case .tcp(let host, let port):
            let tls: PostgresClient.Configuration.TLS =
                switch tlsMode {
                case .disable: .disable
                case .prefer: .prefer(.makeClientConfiguration())
                case .require: .require(.makeClientConfiguration())
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
            do {
                switch tlsMode {
                case .disable: tls = .disable
                case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
                case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
                }
            } catch {
                throw .invalidConfiguration("PostgreSQL TLS: \(error)")
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
