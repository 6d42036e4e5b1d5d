#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why a CA could not be created or loaded, or why PEM input or a certificate request could not be used.
///
/// `source` values name the input in the user's terms ("the CA certificate", "the intermediates"), so a message can
/// be shown as is.
public enum IdentityError: Error, Equatable, CustomStringConvertible {
    /// The input holds no `-----BEGIN ...-----` block at all.
    case noPEMBlock(source: String, expected: String)
    /// A PEM block could not be decoded (bad base64, bad DER, truncated).
    case unparsablePEM(source: String, reason: String)
    /// A PEM block of another kind than the one needed (a key where a certificate belongs, say).
    case unexpectedPEMBlock(source: String, found: String, expected: String)
    /// More than one private key where exactly one is needed.
    case multiplePrivateKeys(source: String)
    /// Weft cannot use password-protected keys.
    case encryptedPrivateKey(source: String)
    /// A key of an algorithm Weft does not sign with.
    case unsupportedKeyAlgorithm(source: String, found: String)
    /// The private key does not belong to the CA certificate.
    case keyDoesNotMatchCertificate(subject: String)
    /// The certificate lacks basic constraints with `cA` true.
    case notACertificateAuthority(subject: String)
    /// The certificate's key usage does not allow signing certificates.
    case missingKeyCertSign(subject: String)
    case certificateExpired(subject: String, notAfter: Date)
    case certificateNotYetValid(subject: String, notBefore: Date)
    /// A certificate extension is malformed.
    case invalidExtension(subject: String, reason: String)
    /// The chain stops at a certificate that is not self-signed and whose issuer was not given.
    case incompleteChain(subject: String, issuer: String)
    /// A certificate with the right issuer name was given, but its key did not sign the certificate below it.
    case chainSignatureInvalid(subject: String, issuer: String)
    /// A certificate among the intermediates is not on the path from the CA certificate to its root.
    case unrelatedCertificate(subject: String)
    /// A certificate's `pathLenConstraint` forbids the CAs below it.
    case pathLengthExceeded(subject: String, maxPathLength: Int, caCertificatesBelow: Int)
    case invalidTrustDomain(String)
    /// The CA certificate carries a SPIFFE ID of another trust domain.
    case trustDomainMismatch(certificateTrustDomain: String, configured: String)
    case invalidValidity(requested: Duration)
    case ttlOutOfRange(requested: Duration, minimum: Duration, maximum: Duration)
    case noServerNames
    case invalidDNSName(String)
    /// The CA certificate itself expires before the requested certificate could be useful.
    case authorityExpiresTooSoon(notAfter: Date)
    /// Building, signing or encoding a certificate or CSR failed; not caused by the input.
    case encodingFailed(String)

    public var description: String {
        switch self {
        case .noPEMBlock(let source, let expected):
            return "\(source) holds no PEM block; expected '-----BEGIN \(expected)-----'"
        case .unparsablePEM(let source, let reason):
            return "\(source) could not be parsed: \(reason)"
        case .unexpectedPEMBlock(let source, let found, let expected):
            return
                "\(source) holds a '\(found)' PEM block where '\(expected)' was expected; check that the files are not swapped"
        case .multiplePrivateKeys(let source):
            return "\(source) holds more than one private key; give exactly one"
        case .encryptedPrivateKey(let source):
            return
                "\(source) is encrypted; Weft needs an unencrypted key (e.g. 'openssl pkcs8 -topk8 -nocrypt -in key.pem'), protected by file permissions"
        case .unsupportedKeyAlgorithm(let source, let found):
            return
                "\(source) uses a \(found) key; Weft CAs sign with ECDSA P-256 only (e.g. 'openssl ecparam -name prime256v1 -genkey')"
        case .keyDoesNotMatchCertificate(let subject):
            return
                "the private key does not belong to the CA certificate '\(subject)'; give the key the certificate was issued for"
        case .notACertificateAuthority(let subject):
            return
                "'\(subject)' is not a CA certificate (basic constraints cA is not true); give a root or intermediate CA certificate"
        case .missingKeyCertSign(let subject):
            return
                "'\(subject)' may not sign certificates (key usage lacks keyCertSign); give a CA certificate issued for certificate signing"
        case .certificateExpired(let subject, let notAfter):
            return "'\(subject)' expired at \(Self.format(notAfter)); renew it"
        case .certificateNotYetValid(let subject, let notBefore):
            return "'\(subject)' is not valid before \(Self.format(notBefore)); check this host's clock or wait"
        case .invalidExtension(let subject, let reason):
            return "'\(subject)' has a malformed extension: \(reason)"
        case .incompleteChain(let subject, let issuer):
            return
                "the chain stops at '\(subject)': its issuer '\(issuer)' was not given; add the issuing certificates up to the self-signed root to the intermediates"
        case .chainSignatureInvalid(let subject, let issuer):
            return
                "'\(subject)' was not signed by the given '\(issuer)' (same name, different key); give the certificate that actually issued it"
        case .unrelatedCertificate(let subject):
            return
                "'\(subject)' among the intermediates is not on the path from the CA certificate to its root; remove it"
        case .pathLengthExceeded(let subject, let maxPathLength, let below):
            return
                "'\(subject)' allows \(maxPathLength) CA certificate(s) below it (pathLenConstraint) but the chain has \(below); use a CA closer to the root"
        case .invalidTrustDomain(let domain):
            return
                "'\(domain)' is not a valid trust domain; use lowercase letters, digits, '-', '.' and '_' (e.g. 'weft.local')"
        case .trustDomainMismatch(let certificateTrustDomain, let configured):
            return
                "the CA certificate names trust domain '\(certificateTrustDomain)' but Weft is configured for '\(configured)'; make them agree"
        case .invalidValidity(let requested):
            return "a CA validity of \(requested.weftDescription) is not possible; give a positive duration"
        case .ttlOutOfRange(let requested, let minimum, let maximum):
            return
                "a lifetime of \(requested.weftDescription) is outside the allowed \(minimum.weftDescription) to \(maximum.weftDescription)"
        case .noServerNames:
            return "a server certificate needs at least one DNS name or IP address"
        case .invalidDNSName(let name):
            return
                "'\(name)' is not a valid DNS name for a server certificate (letters, digits and '-' in dot-separated labels; no wildcards)"
        case .authorityExpiresTooSoon(let notAfter):
            return
                "the CA certificate expires at \(Self.format(notAfter)), too soon to issue certificates; install a renewed CA"
        case .encodingFailed(let reason):
            return "could not build the certificate: \(reason)"
        }
    }

    static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
