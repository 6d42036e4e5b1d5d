import Foundation
import Hummingbird
import NIOCore
import WeftCore

/// A refused admin API request: an HTTP status and a body `{"error": "...", "field": "..."}` that tells the caller
/// what to change. Every error the API returns has this shape.
struct AdminError: Error, HTTPResponseError, CustomStringConvertible {
    var status: HTTPResponse.Status
    var message: String
    /// The request field (body path such as `ports[0]`, a path parameter, a query parameter or a header) at fault.
    var field: String?
    /// For 409: the revision the object is at now, so the caller can re-read and retry.
    var currentRevision: Int64?
    var headers: HTTPFields = [:]

    init(
        _ status: HTTPResponse.Status, _ message: String, field: String? = nil, currentRevision: Int64? = nil,
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.message = message
        self.field = field
        self.currentRevision = currentRevision
        self.headers = headers
    }

    static func badRequest(_ message: String, field: String? = nil) -> AdminError {
        AdminError(.badRequest, field.map { "\($0): \(message)" } ?? message, field: field)
    }

    static func notFound(_ message: String) -> AdminError { AdminError(.notFound, message) }

    var description: String { "\(status.code) \(message)" }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(
            AdminErrorBody(error: message, field: field, currentRevision: currentRevision), status: status
        )
        response.headers.append(contentsOf: headers)
        if let currentRevision { response.headers[.eTag] = ETag.format(currentRevision) }
        return response
    }

    /// The API's answer to any error a handler or the registry threw.
    static func from(_ error: any Error) -> AdminError {
        switch error {
        case let error as AdminError: return error
        case let error as RegistryError: return from(error)
        case let error as HTTPError:
            // Hummingbird's own refusals (unknown route, unsupported method).
            let message =
                error.status == .notFound
                ? "no such route: see GET /v1/openapi.yaml" : (error.body ?? error.status.reasonPhrase)
            return AdminError(error.status, message, headers: error.headers)
        case is NIOTooManyBytesError:
            return AdminError(.contentTooLarge, "the body is larger than \(JSONBody.limitDescription)")
        default:
            return AdminError(.internalServerError, "internal error: \(error)")
        }
    }

    static func from(_ error: RegistryError) -> AdminError {
        switch error {
        case .notFound: return AdminError(.notFound, error.description)
        case .staleRevision(_, _, let current):
            return AdminError(.conflict, error.description, currentRevision: current ?? 0)
        case .invalid(let field, let reason): return .badRequest(reason, field: field)
        case .joinRefused, .forbidden: return AdminError(.forbidden, error.description)
        case .refusedChange: return AdminError(.conflict, error.description)
        case .csrRejected: return AdminError(.badRequest, error.description)
        // The request is fine but the registry has no room for it: an admin must widen vip_range or delete services.
        case .vipRangeExhausted: return AdminError(.vipRangeFull, error.description)
        case .store: return AdminError(.serviceUnavailable, error.description)
        }
    }
}

/// Turns every error below it into an ``AdminError`` response, so that no caller ever sees another body shape.
struct AdminErrorMiddleware: RouterMiddleware {
    typealias Context = AdminRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let refusal = AdminError.from(error)
            if refusal.status.code >= 500 {
                context.logger.error("admin API \(request.method) \(request.uri.path): \(refusal.message)")
            }
            return try refusal.response(from: request, context: context)
        }
    }
}

extension HTTPResponse.Status {
    /// 507: the VIP range has no free address left.
    static var vipRangeFull: Self { .init(code: 507, reasonPhrase: "Insufficient Storage") }
}
