import Foundation

/// The one JSON encoding of stored bodies: sorted keys (stable bytes, stable config versions), ISO 8601 dates.
enum StoredCoding {
    static func encode(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        // Our model types always encode; a failure here is a programming error, not input.
        do { return try encoder.encode(value) } catch { preconditionFailure("encoding \(type(of: value)): \(error)") }
    }

    static func decode<T: Decodable>(_ type: T.Type, from object: StoredObject) throws(StoreError) -> T {
        switch decoded(type, from: object) {
        case .success(let value): return value
        case .failure(let problem): throw problem.storeError(for: object)
        }
    }

    /// Why a stored body does not decode, in words and naming the field.
    struct Undecodable: Error, Equatable {
        var reason: String

        func storeError(for object: StoredObject) -> StoreError {
            .unavailable("stored \(object.kind) '\(object.key)' cannot be read: \(reason)")
        }
    }

    static func decoded<T: Decodable>(_ type: T.Type, from object: StoredObject) -> Result<T, Undecodable> {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do { return .success(try decoder.decode(type, from: object.body)) } catch {
            return .failure(Undecodable(reason: reason(error)))
        }
    }

    private static func reason(_ error: any Error) -> String {
        func path(_ context: DecodingError.Context, _ key: (any CodingKey)? = nil) -> String {
            let keys = context.codingPath + (key.map { [$0] } ?? [])
            guard !keys.isEmpty else { return "the document" }
            return "'" + keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") + "'"
        }
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            return "\(path(context)): \(context.debugDescription)"
        case .keyNotFound(let key, let context): return "\(path(context, key)) is missing"
        case .typeMismatch(let type, let context): return "\(path(context)) is not a \(type)"
        case .valueNotFound(let type, let context): return "\(path(context)) is null, not a \(type)"
        @unknown default: return "\(error)"
        }
    }
}
