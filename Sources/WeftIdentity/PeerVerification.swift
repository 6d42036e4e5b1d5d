import SwiftASN1
import WeftCore
// The fixed-time RFC 5280 policy is SPI: it lets callers (and tests) validate at a given `now`.
@_spi(FixedExpiryValidationTime) import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension SPIFFEID {
    /// The SPIFFE ID in the certificate's URI SAN; nil unless there is exactly one URI and it is a Weft SPIFFE ID.
    public init?(certificate: Certificate) {
        guard let uris = certificate.uriSubjectAlternativeNames, uris.count == 1,
            let id = try? SPIFFEID(parsing: uris[0])
        else { return nil }
        self = id
    }
}

extension Certificate {
    /// The serial number as the registry records and revokes it: lowercase hex.
    public var serialHex: String { hexString(serialNumber.bytes) }
}

/// Why a peer's certificate chain was not accepted.
public enum PeerVerificationError: Error, Equatable, CustomStringConvertible {
    /// The peer presented no certificate.
    case noCertificate
    /// The leaf is a CA certificate, or may sign certificates or CRLs: signing certificates never authenticate.
    case notALeafCertificate(subject: String)
    /// The leaf has no URI SAN, more than one, or one that is not a Weft SPIFFE ID.
    case noSPIFFEID(uris: [String])
    /// The leaf's SPIFFE ID belongs to another trust domain.
    case foreignTrustDomain(identity: String, expected: String)
    /// No valid chain from the leaf to a certificate of the trust bundle: unknown issuer, bad signature, expired or
    /// not yet valid certificate, or a constraint violated. `reason` is the verifier's explanation.
    case untrusted(identity: String, reason: String)

    public var description: String {
        switch self {
        case .noCertificate:
            return "the peer presented no certificate"
        case .notALeafCertificate(let subject):
            return "the peer presented the CA certificate '\(subject)'; a workload or node certificate is required"
        case .noSPIFFEID(let uris):
            let found = uris.isEmpty ? "no URI SAN" : "URI SANs \(uris.joined(separator: ", "))"
            return "the peer certificate has \(found); exactly one Weft SPIFFE ID is required"
        case .foreignTrustDomain(let identity, let expected):
            return "the peer is '\(identity)', outside the trust domain '\(expected)'"
        case .untrusted(let identity, let reason):
            return "the certificate of '\(identity)' is not trusted: \(reason)"
        }
    }
}

/// Verifies a peer's X509-SVID: the chain must lead to the trust bundle under RFC 5280 at `now`, and the leaf must be
/// a non-CA certificate with exactly one URI SAN that is a Weft SPIFFE ID in `trustDomain`.
///
/// - Parameters:
///   - leafAndIntermediates: the peer's certificates as presented, leaf first.
///   - trustBundle: the roots to trust.
/// - Returns: the peer's identity.
public func verifyChain(
    leafAndIntermediates: [Certificate],
    trustBundle: [Certificate],
    trustDomain: String,
    now: Date = Date()
) async throws(PeerVerificationError) -> SPIFFEID {
    guard let leaf = leafAndIntermediates.first else { throw .noCertificate }
    let identity = try SPIFFELeafPolicy.identity(of: leaf, trustDomain: trustDomain)

    var verifier = Verifier(rootCertificates: CertificateStore(trustBundle)) {
        RFC5280Policy(fixedExpiryValidationTime: now)
        SPIFFELeafPolicy(trustDomain: trustDomain)
    }
    let result = await verifier.validate(
        leaf: leaf,
        intermediates: CertificateStore(leafAndIntermediates.dropFirst())
    )
    switch result {
    case .validCertificate:
        return identity
    case .couldNotValidate(let failures):
        let reasons = Set(failures.map { $0.policyFailureReason.description }).sorted()
        let reason =
            reasons.isEmpty
            ? "no chain to the trust bundle (unknown issuer, bad signature, or an unhandled critical extension)"
            : reasons.joined(separator: "; ")
        throw .untrusted(identity: identity.description, reason: reason)
    }
}

/// The SPIFFE checks on the leaf (X509-SVID section 5.2). It declares that it handles the SAN extension, which a leaf
/// with an empty subject must mark critical: without that declaration swift-certificates' verifier rejects such a
/// leaf before any policy runs.
struct SPIFFELeafPolicy: VerifierPolicy {
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [.X509ExtensionID.subjectAlternativeName]
    let trustDomain: String

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) -> PolicyEvaluationResult {
        do {
            _ = try Self.identity(of: chain.leaf, trustDomain: trustDomain)
            return .meetsPolicy
        } catch {
            return .failsToMeetPolicy(reason: error.description)
        }
    }

    static func identity(of leaf: Certificate, trustDomain: String) throws(PeerVerificationError) -> SPIFFEID {
        let isCA: Bool
        let mayOnlySign: Bool
        do {
            if case .isCertificateAuthority = try leaf.extensions.basicConstraints { isCA = true } else { isCA = false }
            let usage = try leaf.extensions.keyUsage
            mayOnlySign = usage?.keyCertSign == true || usage?.cRLSign == true
        } catch {
            throw .notALeafCertificate(subject: leaf.displayName)
        }
        guard !isCA, !mayOnlySign else { throw .notALeafCertificate(subject: leaf.displayName) }
        guard let identity = SPIFFEID(certificate: leaf) else {
            throw .noSPIFFEID(uris: leaf.uriSubjectAlternativeNames ?? [])
        }
        guard identity.trustDomain == trustDomain else {
            throw .foreignTrustDomain(identity: identity.description, expected: trustDomain)
        }
        return identity
    }
}
