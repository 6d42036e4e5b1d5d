/// A value with the revision of its last change: the admin API's ETag, sent back as If-Match to change it.
///
/// In lists it is encoded as the value's own fields plus `revision`.
public struct Revisioned<Value: Sendable>: Sendable {
    public var value: Value
    public var revision: Int64

    public init(value: Value, revision: Int64) {
        self.value = value
        self.revision = revision
    }
}

extension Revisioned: Equatable where Value: Equatable {}

private enum RevisionKeys: String, CodingKey { case revision }

extension Revisioned: Decodable where Value: Decodable {
    public init(from decoder: any Decoder) throws {
        value = try Value(from: decoder)
        revision = try decoder.container(keyedBy: RevisionKeys.self).decode(Int64.self, forKey: .revision)
    }
}

extension Revisioned: Encodable where Value: Encodable {
    public func encode(to encoder: any Encoder) throws {
        try value.encode(to: encoder)
        var container = encoder.container(keyedBy: RevisionKeys.self)
        try container.encode(revision, forKey: .revision)
    }
}
