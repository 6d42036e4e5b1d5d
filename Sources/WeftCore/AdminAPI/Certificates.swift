#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// GET /v1/certificates: the CA, the certificates it issued and those revoked.
public struct CertificatesInfo: Sendable, Equatable, Codable {
    public struct Authority: Sendable, Equatable, Codable {
        public var trustDomain: String
        public var subject: String
        public var issuer: String
        public var notBefore: Date
        public var notAfter: Date
        /// SHA-256 of the CA certificate (DER), hex.
        public var fingerprint: String
        public var isRoot: Bool
        /// SHA-256 of the trust bundle's root, hex: what join tokens carry.
        public var trustBundleFingerprint: String

        public init(
            trustDomain: String, subject: String, issuer: String, notBefore: Date, notAfter: Date, fingerprint: String,
            isRoot: Bool, trustBundleFingerprint: String
        ) {
            self.trustDomain = trustDomain
            self.subject = subject
            self.issuer = issuer
            self.notBefore = notBefore
            self.notAfter = notAfter
            self.fingerprint = fingerprint
            self.isRoot = isRoot
            self.trustBundleFingerprint = trustBundleFingerprint
        }

        enum CodingKeys: String, CodingKey {
            case subject, issuer, fingerprint
            case trustDomain = "trust_domain"
            case notBefore = "not_before"
            case notAfter = "not_after"
            case isRoot = "is_root"
            case trustBundleFingerprint = "trust_bundle_fingerprint"
        }
    }

    public var authority: Authority
    public var issued: [IssuedCertificateRecord]
    public var revoked: [RevokedCertificate]

    public init(authority: Authority, issued: [IssuedCertificateRecord], revoked: [RevokedCertificate] = []) {
        self.authority = authority
        self.issued = issued
        self.revoked = revoked
    }
}

/// A certificate the CA issued, as the registry records it (never the key: keys stay on nodes).
public struct IssuedCertificateRecord: Sendable, Equatable, Codable {
    public var serialNumber: String
    public var identity: String
    public var node: String
    public var notBefore: Date
    public var notAfter: Date

    public init(serialNumber: String, identity: String, node: String, notBefore: Date, notAfter: Date) {
        self.serialNumber = serialNumber
        self.identity = identity
        self.node = node
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    enum CodingKeys: String, CodingKey {
        case identity, node
        case serialNumber = "serial_number"
        case notBefore = "not_before"
        case notAfter = "not_after"
    }
}
