#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A certificate the control plane no longer honours: every node refuses it in TLS handshakes and closes the
/// connections made with it, until it would have expired anyway.
public struct RevokedCertificate: Sendable, Equatable, Codable {
    public var serialNumber: String
    public var identity: String
    /// The node it was issued to.
    public var node: String
    public var notAfter: Date
    public var revokedAt: Date
    public var revokedBy: String
    public var reason: RevocationReason

    public init(
        serialNumber: String, identity: String, node: String, notAfter: Date, revokedAt: Date, revokedBy: String,
        reason: RevocationReason
    ) {
        self.serialNumber = serialNumber
        self.identity = identity
        self.node = node
        self.notAfter = notAfter
        self.revokedAt = revokedAt
        self.revokedBy = revokedBy
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case identity, node, reason
        case serialNumber = "serial_number"
        case notAfter = "not_after"
        case revokedAt = "revoked_at"
        case revokedBy = "revoked_by"
    }
}

/// Why a certificate was revoked.
public enum RevocationReason: String, Sendable, Equatable, Codable {
    /// An admin revoked this certificate.
    case revokedByAdmin = "revoked-by-admin"
    /// The node it was issued to was deleted.
    case nodeDeleted = "node-deleted"
}
