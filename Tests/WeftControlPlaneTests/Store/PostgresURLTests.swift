import Testing

@testable import WeftControlPlane

@Suite("StoreConformance.PostgresURL")
struct PostgresURLTests {
    @Test
    func tcpURLWithEverything() throws {
        let url = try PostgresURL(
            "postgres://weft:s3cr%40t%2Fx@db.example.net:6432/weft_prod?sslmode=require&application_name=weftd-a")
        #expect(
            url
                == PostgresURL(
                    endpoint: .tcp(host: "db.example.net", port: 6432), username: "weft", password: "s3cr@t/x",
                    database: "weft_prod", tlsMode: .require, applicationName: "weftd-a"))
        #expect(url.description == "postgres://weft@db.example.net:6432/weft_prod?sslmode=require")
        #expect(!url.description.contains("s3cr"))
    }

    @Test
    func tcpDefaults() throws {
        let url = try PostgresURL("postgresql://postgres@127.0.0.1/weft_test")
        #expect(url.endpoint == .tcp(host: "127.0.0.1", port: 5432))
        #expect(url.username == "postgres")
        #expect(url.password == nil)
        #expect(url.tlsMode == .verifyFull, "TCP without sslmode: TLS, chain and host name verified")
        #expect(url.rootCertificatePath == nil, "the system's roots")
        #expect(url.description == "postgres://postgres@127.0.0.1:5432/weft_test")
        #expect(try PostgresURL("postgres://u@[::1]:5433/d").endpoint == .tcp(host: "::1", port: 5433))
        #expect(try PostgresURL("postgres://u@h/d?sslmode=disable").tlsMode == .disable)
    }

    @Test(arguments: [
        ("disable", PostgresURL.TLSMode.disable), ("allow", .prefer), ("prefer", .prefer), ("require", .require),
        ("verify-ca", .verifyCA), ("verify-full", .verifyFull),
    ])
    func sslModes(mode: String, expected: PostgresURL.TLSMode) throws {
        #expect(try PostgresURL("postgres://u@db/d?sslmode=\(mode)").tlsMode == expected)
    }

    @Test
    func tlsVerificationFollowsTheMode() throws {
        let full = try PostgresURL("postgres://u@db/d").tlsConfiguration()
        #expect(full.certificateVerification == .fullVerification)
        let chainOnly = try PostgresURL("postgres://u@db/d?sslmode=verify-ca").tlsConfiguration()
        #expect(chainOnly.certificateVerification == .noHostnameVerification)
        let required = try PostgresURL("postgres://u@db/d?sslmode=require").tlsConfiguration()
        #expect(required.certificateVerification == .fullVerification, "require never skips verification")
    }

    @Test
    func rootCertificates() throws {
        let url = try PostgresURL("postgres://u@db/d?sslrootcert=/etc/weft/pg-ca.pem")
        #expect(url.rootCertificatePath == "/etc/weft/pg-ca.pem")
        #expect(url.tlsMode == .verifyFull)
        #expect(url.withDatabase("other").rootCertificatePath == "/etc/weft/pg-ca.pem", "kept for other databases")
        #expect(try PostgresURL("postgres://u@db/d?sslrootcert=system").rootCertificatePath == nil)
        #expect {
            try PostgresURL("postgres://u@db/d?sslrootcert=/nonexistent/ca.pem").tlsConfiguration()
        } throws: { "\($0)".contains("sslrootcert /nonexistent/ca.pem: cannot be read") }
    }

    @Test
    func unixSocketsStayPlaintext() throws {
        let url = try PostgresURL("postgres://postgres@/weft_test?host=/tmp/pg&port=25729&sslrootcert=/tmp/pg/ca.pem")
        #expect(url.endpoint == .unixSocket(path: "/tmp/pg/.s.PGSQL.25729"))
        let configuration = try url.connectionConfiguration()
        #expect(configuration.tls.sslContext == nil, "no TLS on a unix socket")
    }

    @Test
    func unixSocketDirectory() throws {
        let url = try PostgresURL("postgres:///weft?host=/run/postgresql")
        #expect(url.endpoint == .unixSocket(path: "/run/postgresql/.s.PGSQL.5432"))
        #expect(url.database == "weft")
        #expect(!url.username.isEmpty)  // the OS user's name, as libpq does

        let withPort = try PostgresURL("postgres://postgres@/weft_test?host=/tmp/pg/&port=25729")
        #expect(withPort.endpoint == .unixSocket(path: "/tmp/pg/.s.PGSQL.25729"))
        #expect(withPort.username == "postgres")
    }

    @Test(arguments: [
        ("mysql://u@h/d", "scheme must be postgres://"),
        ("db.example.net/weft", "expected postgres://"),
        ("postgres://u@h", "no database name"),
        ("postgres://u@h/", "no database name"),
        ("postgres://u@h:70000/d", "out of range"),
        ("postgres://u@h/d?port=abc", "the port 'abc' is not a number"),
        ("postgres://u@h:5432/d?port=5433", "port is given twice"),
        ("postgres:///d", "no host"),
        ("postgres://u@h/d?sslmode=maybe", "sslmode 'maybe'"),
        ("postgres://u@h/d?connect_timeout=5", "unknown parameter 'connect_timeout'"),
        ("postgres://u@h/d?host=/x", "host is given twice"),
        ("postgres:///d?host=/run/pg&sslmode=require", "cannot be met on a unix socket"),
        ("postgres:///d?host=/run/pg&sslmode=verify-full", "cannot be met on a unix socket"),
        ("postgres://u@h/d?sslrootcert=ca.pem", "sslrootcert 'ca.pem' is not an absolute path"),
        ("postgres://u@h/d?user=", "'user' has no value"),
    ])
    func refusals(url: String, reason: String) {
        #expect {
            try PostgresURL(url)
        } throws: { error in
            guard case .invalidConfiguration(let message) = error as? StoreError else { return false }
            return message.contains(reason)
        }
    }

    @Test
    func refusalsNeverShowThePassword() {
        for url in ["postgres://u:hunter2@h", "postgres://u@h/d?password=hunter2&bogus=1"] {
            #expect {
                try PostgresURL(url)
            } throws: { error in
                guard case .invalidConfiguration(let message) = error as? StoreError else { return false }
                return !message.contains("hunter2") && message.contains("***")
            }
        }
    }

    @Test
    func storeInitRefusesABadURL() {
        #expect(throws: StoreError.self) { try PostgresStore(url: "postgres://nowhere") }
    }
}
