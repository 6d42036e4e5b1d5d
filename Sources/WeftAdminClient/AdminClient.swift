import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import WeftCore

/// Why an admin API call failed.
public enum AdminClientError: Error, Equatable, CustomStringConvertible {
    /// weftd answered with an error: its status and message, the field at fault, and for 409 the current revision.
    case server(status: HTTPResponseStatus, message: String, field: String?, currentRevision: Int64?)
    /// weftd could not be reached at all.
    case unreachable(address: String, reason: String)
    /// The TLS handshake failed (usually: the client does not trust weftd's certificate).
    case tls(address: String, reason: String)
    case invalidResponse(String)
    case configuration(String)

    public var description: String {
        switch self {
        case .server(let status, let message, _, _): return "\(message) (HTTP \(status.code))"
        case .unreachable(let address, let reason): return "cannot reach weftd at \(address): \(reason)"
        case .tls(let address, let reason): return "TLS with \(address) failed: \(reason)"
        case .invalidResponse(let reason): return "unexpected answer from weftd: \(reason)"
        case .configuration(let reason): return reason
        }
    }

    /// The HTTP status, for server errors.
    public var status: HTTPResponseStatus? {
        if case .server(let status, _, _, _) = self { return status }
        return nil
    }
}

/// A raw admin API response.
public struct AdminResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: [(name: String, value: String)]
    public var body: Data

    /// The revision in the ETag header.
    public var etag: Int64? {
        guard let value = header("etag") else { return nil }
        return Int64(value.trimmingCharacters(in: CharacterSet(charactersIn: "\"W/")))
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The error body, when there is one.
    public var error: AdminErrorBody? { try? AdminClient.decoder.decode(AdminErrorBody.self, from: body) }
}

/// A client of weftd's admin API over HTTPS (or plaintext HTTP on loopback), with a bearer token. Used by weftctl
/// and the tests. Call ``shutdown()`` when done.
public final class AdminClient: Sendable {
    /// `https://host:port`, without a trailing slash.
    public let baseURL: String
    public let token: String?
    let http: HTTPClient
    let timeout: TimeAmount

    /// - Parameters:
    ///   - baseURL: `https://host:port` or `http://127.0.0.1:port`.
    ///   - trustedCAPEM: the certificates to trust for weftd's TLS certificate (the mesh trust bundle); nil trusts
    ///     the system's roots.
    public init(baseURL: String, token: String?, trustedCAPEM: String? = nil, timeout: Duration = .seconds(30)) throws {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil
        else {
            throw AdminClientError.configuration("'\(baseURL)' is not an admin API address: use https://host:port")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let trustedCAPEM {
            do {
                let roots = try NIOSSLCertificate.fromPEMBytes(Array(trustedCAPEM.utf8))
                guard !roots.isEmpty else { throw AdminClientError.configuration("the CA file holds no certificate") }
                tls.trustRoots = .certificates(roots)
            } catch let error as AdminClientError {
                throw error
            } catch {
                throw AdminClientError.configuration("the CA file is not PEM certificates: \(error)")
            }
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.redirectConfiguration = .disallow
        // One server, one admin waiting: a refused connection is reported now, not retried until a timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        self.baseURL = base
        self.token = token
        self.timeout = .seconds(timeout.components.seconds)
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Reads the CA from a PEM file (the trust bundle weftd wrote, or GET /v1/trust-bundle saved).
    public convenience init(baseURL: String, token: String?, caFile: String?, timeout: Duration = .seconds(30)) throws {
        var pem: String?
        if let caFile {
            do { pem = try String(contentsOfFile: caFile, encoding: .utf8) } catch {
                throw AdminClientError.configuration("cannot read the CA file \(caFile): \(error.localizedDescription)")
            }
        }
        try self.init(baseURL: baseURL, token: token, trustedCAPEM: pem, timeout: timeout)
    }

    public func shutdown() async throws {
        try await http.shutdown()
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    // MARK: Raw requests

    /// Sends one request and returns whatever weftd answered, errors included. Throws only when there is no
    /// answer (unreachable, TLS failure).
    public func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil, ifMatch: Int64? = nil,
        headers extra: [(String, String)] = [], authenticated: Bool = true
    ) async throws -> AdminResponse {
        var url = baseURL + path
        if !query.isEmpty {
            var components = URLComponents()
            components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
            url += "?" + (components.percentEncodedQuery ?? "")
        }
        var request = HTTPClientRequest(url: url)
        request.method = method
        if authenticated, let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let ifMatch { request.headers.add(name: "If-Match", value: "\"\(ifMatch)\"") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        for (name, value) in extra { request.headers.replaceOrAdd(name: name, value: value) }
        do {
            let response = try await http.execute(request, timeout: timeout)
            let bytes = try await response.body.collect(upTo: 64 << 20)
            return AdminResponse(
                status: response.status, headers: response.headers.map { ($0.name, $0.value) },
                body: Data(bytes.readableBytesView)
            )
        } catch {
            throw Self.transportError(error, address: baseURL)
        }
    }

    static func transportError(_ error: any Error, address: String) -> AdminClientError {
        if let error = error as? AdminClientError { return error }
        let text = String(describing: error)
        if text.contains("WRONG_VERSION_NUMBER") {
            return .tls(
                address: address,
                reason:
                    "the server there does not speak TLS; if weftd serves plaintext on loopback (--admin-plaintext), use http://host:port"
            )
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("unableToValidateCertificate") {
            return .tls(
                address: address,
                reason:
                    "weftd's certificate is not trusted: pass the mesh trust bundle with --ca-file (weftd writes trust-bundle.pem to its data directory; GET /v1/trust-bundle serves it)"
            )
        }
        if error is NIOSSLError || error is BoringSSLError || text.contains("handshakeFailed") {
            return .tls(
                address: address,
                reason: "\(text) (is --ca-file the mesh trust bundle, and does the address name weftd?)")
        }
        if text.contains("connectionRefused") || text.contains("Connection refused") || text.contains("ECONNREFUSED")
            || text.contains("connect(descriptor:addr:size:)")
        {
            return .unreachable(
                address: address, reason: "connection refused: is weftd running there, and is the address right?")
        }
        if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .connectTimeout {
            return .unreachable(address: address, reason: "timed out")
        }
        return .unreachable(address: address, reason: text)
    }

    /// Sends a request and decodes a successful answer as `T`; an error answer throws ``AdminClientError/server``.
    func call<T: Decodable>(
        _ type: T.Type, _ method: HTTPMethod, _ path: String, query: [(String, String)] = [],
        body: (some Encodable)? = nil as Never?,
        ifMatch: Int64? = nil
    ) async throws -> (value: T, revision: Int64?) {
        let data = try body.map { try Self.encoder.encode($0) }
        let response = try check(try await send(method, path, query: query, body: data, ifMatch: ifMatch))
        do { return (try Self.decoder.decode(T.self, from: response.body), response.etag) } catch {
            throw AdminClientError.invalidResponse("\(method) \(path): \(error)")
        }
    }

    /// Sends a request whose success has no body.
    func callNoContent(_ method: HTTPMethod, _ path: String, ifMatch: Int64? = nil) async throws {
        _ = try check(try await send(method, path, ifMatch: ifMatch))
    }

    func check(_ response: AdminResponse) throws -> AdminResponse {
        guard response.status.code / 100 == 2 else {
            let body = response.error
            throw AdminClientError.server(
                status: response.status,
                message: body?.error ?? "HTTP \(response.status.code): \(response.text.prefix(200))",
                field: body?.field, currentRevision: body?.currentRevision
            )
        }
        return response
    }

    /// A path segment, percent-encoded.
    static func segment(_ text: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// An intention side in a path: `*`, `name` or `namespace~name`.
    static func selectorSegment(_ selector: ServiceSelector) -> String {
        switch selector {
        case .any: return "*"
        case .service(let name):
            return segment(name.namespace == "default" ? name.name : "\(name.namespace)~\(name.name)")
        }
    }
}
