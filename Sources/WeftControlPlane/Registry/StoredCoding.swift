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
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do { return try decoder.decode(type, from: object.body) } catch {
            throw .unavailable("stored \(object.kind) '\(object.key)' cannot be read: \(error)")
        }
    }
}
