/// The body of every error the admin API returns: what went wrong, the field at fault, and for 409 the revision
/// the object is at now.
public struct AdminErrorBody: Sendable, Equatable, Codable {
    public var error: String
    public var field: String?
    public var currentRevision: Int64?

    public init(error: String, field: String? = nil, currentRevision: Int64? = nil) {
        self.error = error
        self.field = field
        self.currentRevision = currentRevision
    }

    enum CodingKeys: String, CodingKey {
        case error, field
        case currentRevision = "current_revision"
    }
}
