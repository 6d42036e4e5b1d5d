#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why the CA refused to issue a certificate for a CSR. Each message says what was asked and what is allowed, and is
/// safe to send back to the node that asked.
public enum CSRRejection: Error, Equatable, CustomStringConvertible {
    /// The bytes are not a PKCS#10 certificate request.
    case unparsableCSR(reason: String)
    /// The CSR's signature does not verify with its own public key: the requester does not hold the key, or the CSR
    /// was altered in transit.
    case invalidSignature
    /// The CSR's key is not ECDSA P-256 (`found` names the key type, e.g. "ECDSA P-384").
    case unsupportedKey(found: String)
    /// The CSR requests no subject alternative name, or an empty one.
    case missingSubjectAlternativeName
    /// The CSR requests more than one URI.
    case multipleURIs([String])
    /// The CSR requests a URI other than the identity the caller may have.
    case identityMismatch(requested: String, allowed: String)
    /// The CSR requests a URI with a `*` in it.
    case wildcardURI(String)
    case dnsNameNotAllowed(String)
    case ipAddressNotAllowed(String)
    case emailAddressNotAllowed(String)
    /// Any other kind of name (directory name, other name, registered ID, ...).
    case unsupportedName(String)
    /// The identity to issue for is not in this CA's trust domain.
    case foreignTrustDomain(identity: String, trustDomain: String)
    /// The identity to issue for is not a valid Weft SPIFFE ID (it would not parse back).
    case invalidIdentity(String)
    case ttlOutOfRange(requested: Duration, minimum: Duration, maximum: Duration)
    /// The CA's own certificate (or one above it) expires within the minimum lifetime.
    case authorityExpiresTooSoon(notAfter: Date)
    /// Signing or encoding the certificate failed; not caused by the CSR.
    case signingFailed(String)

    public var description: String {
        switch self {
        case .unparsableCSR(let reason):
            return "the certificate request could not be parsed (\(reason)); send a DER or PEM PKCS#10 CSR"
        case .invalidSignature:
            return
                "the certificate request's signature does not verify with its public key; sign the CSR with the key it carries"
        case .unsupportedKey(let found):
            return "the certificate request carries a \(found) key; only ECDSA P-256 keys are accepted"
        case .missingSubjectAlternativeName:
            return "the certificate request names no identity; request exactly one URI SAN with the SPIFFE ID"
        case .multipleURIs(let uris):
            return
                "the certificate request asks for \(uris.count) URIs (\(uris.joined(separator: ", "))); request exactly one, the SPIFFE ID"
        case .identityMismatch(let requested, let allowed):
            return "the certificate request asks for '\(requested)' but only '\(allowed)' may be issued here"
        case .wildcardURI(let uri):
            return
                "the certificate request asks for the wildcard '\(uri)'; wildcards are never issued, request one exact SPIFFE ID"
        case .dnsNameNotAllowed(let name):
            return
                "the certificate request asks for the DNS name '\(name)'; workload certificates carry only the SPIFFE ID URI"
        case .ipAddressNotAllowed(let address):
            return
                "the certificate request asks for the IP address \(address); workload certificates carry only the SPIFFE ID URI"
        case .emailAddressNotAllowed(let address):
            return
                "the certificate request asks for the email address '\(address)'; workload certificates carry only the SPIFFE ID URI"
        case .unsupportedName(let name):
            return
                "the certificate request asks for the name \(name); workload certificates carry only the SPIFFE ID URI"
        case .foreignTrustDomain(let identity, let trustDomain):
            return
                "'\(identity)' is outside this CA's trust domain '\(trustDomain)'; only spiffe://\(trustDomain)/... identities are issued"
        case .invalidIdentity(let identity):
            return
                "'\(identity)' is not a valid Weft SPIFFE ID (spiffe://<td>/ns/<namespace>/svc/<service> or spiffe://<td>/node/<node>)"
        case .ttlOutOfRange(let requested, let minimum, let maximum):
            return
                "a certificate lifetime of \(requested.weftDescription) was asked; allowed are \(minimum.weftDescription) to \(maximum.weftDescription)"
        case .authorityExpiresTooSoon(let notAfter):
            return
                "the CA certificate expires at \(IdentityError.format(notAfter)), too soon to issue certificates; the operator must install a renewed CA"
        case .signingFailed(let reason):
            return "the CA could not sign the certificate: \(reason)"
        }
    }
}
