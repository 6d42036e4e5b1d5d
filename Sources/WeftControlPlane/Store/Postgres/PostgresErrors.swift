import NIOSSL
import PostgresNIO

enum PostgresErrors {
    /// Maps anything PostgresNIO (or the store's own code) throws to a `StoreError`.
    static func storeError(_ error: any Error, doing what: String, server: String) -> StoreError {
        if let error = error as? StoreError { return error }
        return .unavailable("\(what): \(describe(error, server: server))")
    }

    /// The server's own message where there is one (`ERROR 42P01: relation "meta" does not exist`), else what went
    /// wrong with the connection. Never the query's bound values (they may hold secrets).
    static func describe(_ error: any Error, server: String) -> String {
        if let error = error as? StoreError { return error.description }
        if error is CancellationError { return "cancelled" }
        guard let error = error as? PSQLError else { return "\(error)" }
        if let underlying = error.underlying, underlying is NIOSSLError || underlying is NIOSSLExtraError {
            return
                "TLS with \(server) failed (\(underlying)): its certificate must chain to a root in sslrootcert= (the system's roots without it) and, unless sslmode=verify-ca, name the URL's host"
        }
        switch error.code {
        case .sslUnsupported:
            return
                "\(server) does not offer TLS: turn on ssl in the server, or add sslmode=disable to the URL where plaintext is safe"
        case .server:
            let info = error.serverInfo
            var text =
                "\(info?[.severity] ?? "ERROR") \(info?[.sqlState] ?? "?????"): \(info?[.message] ?? "(no message)")"
            if let detail = info?[.detail] { text += " (\(detail))" }
            return "\(server): \(text)"
        case .connectionError:
            return "cannot connect to \(server): \(error.underlying.map { "\($0)" } ?? "connection failed")"
        case .serverClosedConnection, .uncleanShutdown:
            return "\(server) closed the connection\(error.underlying.map { ": \($0)" } ?? "")"
        case .poolClosed, .clientClosedConnection:
            return "the connection to \(server) is closed"
        default:
            return "\(server): \(error.code)\(error.underlying.map { ": \($0)" } ?? "")"
        }
    }
}
