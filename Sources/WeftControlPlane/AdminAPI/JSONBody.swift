import Foundation
import Hummingbird
import NIOCore
import WeftCore

/// The fields a request body may contain, and the few values checked before decoding. `JSONDecoder` ignores keys it
/// does not know, so a typo (`"prots": [80]`) would silently do nothing; every body is checked against its shape
/// first and an unknown key is refused, naming it.
indirect enum JSONShape: Sendable {
    /// Anything; the decoder checks it.
    case value
    /// An object with exactly these keys allowed (none required here: the decoder says what is missing).
    case object([String: JSONShape])
    case array(JSONShape)
    /// An object with free keys (labels) whose values have this shape.
    case map(JSONShape)
    /// A string from this list (or null: the decoder decides whether null is allowed).
    case oneOf([String])
    /// An integer 1-65535.
    case port

    struct Violation: Error, Equatable {
        var field: String
        var message: String
    }

    /// The first place where `json` (a `JSONSerialization` value) does not fit, or nil.
    func violation(in json: Any, at path: String = "") -> Violation? {
        switch self {
        case .value:
            return nil
        case .object(let allowed):
            guard let object = json as? [String: Any] else {
                return json is NSNull
                    ? nil : Violation(field: path.isEmpty ? "body" : path, message: "expected an object")
            }
            for key in object.keys.sorted() {
                let field = path.isEmpty ? key : "\(path).\(key)"
                guard let shape = allowed[key] else {
                    let known = allowed.keys.sorted().joined(separator: ", ")
                    return Violation(field: field, message: "unknown field; the fields here are: \(known)")
                }
                if let violation = shape.violation(in: object[key]!, at: field) { return violation }
            }
            return nil
        case .array(let element):
            guard let array = json as? [Any] else {
                return json is NSNull ? nil : Violation(field: path, message: "expected a list")
            }
            for (index, item) in array.enumerated() {
                if let violation = element.violation(in: item, at: "\(path)[\(index)]") { return violation }
            }
            return nil
        case .map(let element):
            guard let object = json as? [String: Any] else {
                return json is NSNull ? nil : Violation(field: path, message: "expected an object")
            }
            for key in object.keys.sorted() {
                if let violation = element.violation(in: object[key]!, at: "\(path).\(key)") { return violation }
            }
            return nil
        case .oneOf(let choices):
            if json is NSNull { return nil }
            guard let text = json as? String, choices.contains(text) else {
                return Violation(
                    field: path, message: "\(Self.show(json)) is not one of: \(choices.joined(separator: ", "))")
            }
            return nil
        case .port:
            if let number = json as? NSNumber, let port = Int(exactly: number.doubleValue), (1...65535).contains(port) {
                return nil
            }
            return Violation(field: path, message: "\(Self.show(json)) is not a port number (1-65535)")
        }
    }

    private static func show(_ json: Any) -> String {
        if let text = json as? String { return "'\(text)'" }
        if json is NSNull { return "null" }
        return "\(json)"
    }
}

/// A type the admin API accepts as a request body.
protocol AdminRequestBody: Decodable {
    static var shape: JSONShape { get }
}

/// Reads and decodes request bodies: at most 1 MiB, JSON, no unknown fields, each refusal naming the field.
enum JSONBody {
    static let limit = 1 << 20
    static let limitDescription = "1 MiB"

    /// The body's bytes; 413 as soon as the declared or received length passes the limit. A body refused for its
    /// declared length is not read: the connection is closed after the response.
    static func read(_ request: Request, context: AdminRequestContext) async throws -> ByteBuffer {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw tooLarge(context: context, detail: "\(declared) bytes")
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw tooLarge(context: context, detail: "more than \(limit) bytes")
        }
    }

    private static func tooLarge(context: AdminRequestContext, detail: String) -> AdminError {
        context.closeConnectionAfterResponse()
        return AdminError(
            .contentTooLarge, "the body is \(detail); the admin API accepts at most \(limitDescription)",
            headers: [.connection: "close"]
        )
    }

    /// Parses the body as a JSON object and checks it against `T.shape`; `adjust` may change the object (fill a
    /// name from the path) before it is decoded.
    static func decode<T: AdminRequestBody>(
        _ type: T.Type, from request: Request, context: AdminRequestContext,
        adjust: (inout [String: Any]) throws -> Void = { _ in }
    ) async throws -> T {
        let buffer = try await read(request, context: context)
        return try decode(type, from: Data(buffer.readableBytesView), adjust: adjust)
    }

    static func decode<T: AdminRequestBody>(
        _ type: T.Type, from data: Data, adjust: (inout [String: Any]) throws -> Void = { _ in }
    ) throws -> T {
        guard !data.isEmpty else { throw AdminError.badRequest("the request needs a JSON body") }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw AdminError.badRequest("the body is not valid JSON (\(describe(error)))")
        }
        guard var object = parsed as? [String: Any] else {
            throw AdminError.badRequest("the body must be a JSON object")
        }
        try adjust(&object)
        if let violation = T.shape.violation(in: object) {
            throw AdminError.badRequest(violation.message, field: violation.field)
        }
        let normalized: Data
        do { normalized = try JSONSerialization.data(withJSONObject: object) } catch {
            throw AdminError.badRequest("the body is not valid JSON (\(describe(error)))")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do { return try decoder.decode(T.self, from: normalized) } catch let error as DecodingError {
            throw refusal(for: error)
        }
    }

    /// A decoding error as a 400 naming the field, e.g. `external_addresses[0]`.
    static func refusal(for error: DecodingError) -> AdminError {
        switch error {
        case .keyNotFound(let key, let context):
            return .badRequest("this field is required", field: field(context.codingPath + [key]))
        case .valueNotFound(_, let context):
            return .badRequest("must not be null", field: field(context.codingPath))
        case .typeMismatch(let type, let context):
            return .badRequest("expected \(expectation(type))", field: field(context.codingPath))
        case .dataCorrupted(let context):
            let name = field(context.codingPath)
            return .badRequest(explain(context.debugDescription), field: name.isEmpty ? nil : name)
        @unknown default:
            return .badRequest("the body does not fit: \(error)")
        }
    }

    /// `a.b[0].c` from a coding path.
    static func field(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text
    }

    private static func expectation(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Double.Type, is Float.Type: return "a number"
        case is Int.Type, is Int64.Type, is UInt16.Type, is UInt64.Type, is Int32.Type: return "an integer"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a value of type \(name)"
        }
    }

    private static func explain(_ text: String) -> String {
        if text.contains("is not representable") || text.contains("does not fit") {
            return "the number is out of range (ports are 1-65535)"
        }
        if let range = text.range(of: "from invalid String value ") {
            return "'\(text[range.upperBound...])' is not an allowed value"
        }
        return text
    }

    private static func describe(_ error: any Error) -> String {
        let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        return text ?? "\(error)"
    }
}

// MARK: Shapes of the bodies the API accepts

extension ServiceRecord: AdminRequestBody {
    static var shape: JSONShape {
        .object([
            "name": .value, "protocol": .oneOf(ServiceProtocol.allCases.map(\.rawValue)), "ports": .array(.port),
            "labels": .map(.value), "vip": .value, "origin": .oneOf(["admin", "external", "discovered"]),
            "external_addresses": .array(.value), "mesh_mode": .oneOf(MeshMode.allCases.map(\.rawValue)),
            // Like vip, kept by the registry: changed only through allow-node and disallow-node.
            "nodes": .array(.value),
        ])
    }
}

extension HeaderCondition: AdminRequestBody {
    static var shape: JSONShape { .object(["name": .value, "exact": .value, "prefix": .value, "present": .value]) }
}

extension L7Permission: AdminRequestBody {
    static var shape: JSONShape {
        .object([
            "action": .oneOf(IntentionAction.allCases.map(\.rawValue)), "methods": .array(.value), "path_exact": .value,
            "path_prefix": .value, "headers": .array(HeaderCondition.shape),
        ])
    }
}

extension Intention: AdminRequestBody {
    static var shape: JSONShape {
        .object([
            "source": .value, "destination": .value, "action": .oneOf(IntentionAction.allCases.map(\.rawValue)),
            "permissions": .array(L7Permission.shape), "description": .value,
        ])
    }
}

extension TelemetrySettings: AdminRequestBody {
    static var shape: JSONShape {
        .object([
            "metrics_push": .oneOf(MetricsPush.allCases.map(\.rawValue)), "metrics_endpoint": .value,
            "push_interval": .value, "traces_endpoint": .value, "trace_sampling": .value, "access_log": .value,
        ])
    }
}

extension MeshSettings: AdminRequestBody {
    static var shape: JSONShape {
        .object([
            "default_action": .oneOf(IntentionAction.allCases.map(\.rawValue)), "stop_all": .value,
            "mesh_mode": .oneOf(MeshMode.allCases.map(\.rawValue)),
            "egress": .oneOf(EgressPolicy.allCases.map(\.rawValue)),
            "telemetry": TelemetrySettings.shape,
        ])
    }
}

extension JoinTokenRequest: AdminRequestBody {
    static var shape: JSONShape { .object(["node": .value, "ttl_seconds": .value, "addresses": .array(.value)]) }
}

extension NodeAddressesRequest: AdminRequestBody {
    static var shape: JSONShape { .object(["addresses": .array(.value)]) }
}

extension AdminTokenRequest: AdminRequestBody {
    static var shape: JSONShape {
        .object([
            "name": .value,
            "scope": .oneOf(AdminTokenScope.allCases.map(\.rawValue) + [AdminTokenScope.legacyWriteName]),
        ])
    }
}

extension EgressRequest: AdminRequestBody {
    static var shape: JSONShape { .object(["egress": .oneOf(EgressPolicy.allCases.map(\.rawValue))]) }
}

extension DefaultActionRequest: AdminRequestBody {
    static var shape: JSONShape { .object(["action": .oneOf(IntentionAction.allCases.map(\.rawValue))]) }
}

extension MeshModeRequest: AdminRequestBody {
    static var shape: JSONShape { .object(["mode": .oneOf(MeshMode.allCases.map(\.rawValue))]) }
}
