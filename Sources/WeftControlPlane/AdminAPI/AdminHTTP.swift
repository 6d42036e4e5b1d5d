import Foundation
import Hummingbird
import WeftCore

/// JSON responses: sorted keys, ISO 8601 dates, pretty-printed (people read them with curl).
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok, etag: Int64? = nil) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        // The API's own types always encode; a failure is a programming error.
        var data: Data
        do { data = try encoder.encode(value) } catch { preconditionFailure("encoding \(type(of: value)): \(error)") }
        data.append(0x0A)
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let etag { headers[.eTag] = ETag.format(etag) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: data)))
    }

    static func text(_ text: String, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: contentType],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text))
        )
    }

    static func noContent(etag: Int64? = nil) -> Response {
        var headers: HTTPFields = [:]
        if let etag { headers[.eTag] = ETag.format(etag) }
        return Response(status: .noContent, headers: headers)
    }
}

/// Revisions as entity tags: `ETag: "42"`; `If-Match` takes `42` or `"42"`, and `0` means "must not exist yet".
enum ETag {
    static func format(_ revision: Int64) -> String { "\"\(revision)\"" }

    /// The If-Match revision of a request; nil when the header is absent.
    static func ifMatch(_ request: Request) throws -> Int64? {
        guard let raw = request.headers[.ifMatch] else { return nil }
        var text = raw.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("W/") { text.removeFirst(2) }
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = String(text.dropFirst().dropLast()) }
        guard let revision = Int64(text), revision >= 0 else {
            throw AdminError.badRequest(
                "'\(raw)' is not a revision: send the ETag of the object you read, or 0 for one that must not exist yet",
                field: "If-Match"
            )
        }
        return revision
    }
}

/// Path and query parameters, validated.
enum Input {
    /// A path parameter, percent-decoded.
    static func path(_ name: String, _ context: AdminRequestContext) throws -> String {
        guard let raw = context.parameters.get(name) else {
            throw AdminError.badRequest("missing path parameter", field: name)
        }
        return raw.removingPercentEncoding ?? raw
    }

    /// A path parameter that must be a DNS label (node, namespace and service names).
    static func label(_ name: String, _ context: AdminRequestContext) throws -> String {
        let value = try path(name, context)
        try validateLabel(value, field: name)
        return value
    }

    /// An intention side in a path: `*`, `name` (namespace default) or `namespace~name` (a `/` cannot appear in a
    /// path segment, and `~` cannot appear in a DNS label).
    static func selector(_ name: String, _ context: AdminRequestContext) throws -> ServiceSelector {
        let value = try path(name, context)
        do { return try ServiceSelector(parsing: value.replacingOccurrences(of: "~", with: "/")) } catch {
            throw AdminError.badRequest(
                "\(error.description) (write namespace~name for a namespaced service)", field: name)
        }
    }

    static func validateLabel(_ value: String, field: String) throws {
        do { try DNSLabel.validate(value) } catch {
            throw AdminError.badRequest(error.description, field: field)
        }
    }

    static func query(_ name: String, _ request: Request) -> String? {
        request.uri.queryParameters.get(name)
    }

    static func integer(_ name: String, _ request: Request, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = query(name, request) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw AdminError.badRequest(
                "'\(text)' must be an integer \(range.lowerBound)-\(range.upperBound)", field: name)
        }
        return number
    }
}
