import Crypto
import SwiftASN1
import WeftCore
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The control plane's certificate authority: an ECDSA P-256 key and its CA certificate, either a root generated
/// here or the user's own root or intermediate. It issues workload and node certificates from CSRs only, and TLS
/// server certificates for weftd's own listeners.
///
/// The private key never leaves the value except through ``privateKeyPEM``, for persisting it.
public struct CertificateAuthority: Sendable {
    /// The trust domain of every SPIFFE ID this CA issues for.
    public let trustDomain: String
    /// The CA certificate that signs issued certificates.
    public let certificate: Certificate
    /// The certificates between ``certificate`` and the root, nearest first; empty when ``certificate`` is the root.
    public let intermediates: [Certificate]
    /// The self-signed root at the top of the chain: what nodes and proxies must trust.
    public let trustBundle: [Certificate]
    /// The signing certificate and the intermediates, without the root: what follows every issued leaf.
    let chain: [Certificate]
    private let privateKey: P256.Signing.PrivateKey

    /// Shortest lifetime ``issueWorkloadCertificate(csrDER:for:ttl:now:)`` accepts.
    public static let minimumTTL: Duration = .seconds(60)
    /// Longest lifetime ``issueWorkloadCertificate(csrDER:for:ttl:now:)`` accepts.
    public static let maximumTTL: Duration = .seconds(365 * 86_400)
    /// Default validity of a generated root.
    public static let defaultRootValidity: Duration = .seconds(10 * 365 * 86_400)

    /// How far `notBefore` is set before the moment of issuance. A host whose clock runs a little behind the control
    /// plane's would otherwise see a certificate issued "now" as not yet valid and fail handshakes until its clock
    /// catches up; five minutes covers ordinary NTP drift and a VM resumed from suspend.
    static let clockSkewAllowance: TimeInterval = 5 * 60

    /// The signing certificate, PEM (for persisting).
    public var certificatePEM: String { PEM.encode(certificate) }
    /// The private key, PKCS#8 PEM (for persisting; keep it readable by weftd only).
    public var privateKeyPEM: String { privateKey.pemRepresentation + "\n" }
    /// The certificates above ``certificate`` up to and including the root, PEM; nil for a root CA. Pass it back as
    /// `intermediatesPEM` when loading.
    public var intermediatesPEM: String? {
        chain.isEmpty ? nil : PEM.encode(intermediates + trustBundle)
    }
    /// The roots nodes must trust, PEM.
    public var trustBundlePEM: String { PEM.encode(trustBundle) }
    /// The signing certificate and the intermediates, excluding the root, PEM: sent after every issued leaf. Empty
    /// for a root CA.
    public var chainPEM: String { PEM.encode(chain) }
    /// See ``WeftIdentity/trustBundleFingerprint(_:)``.
    public var trustBundleFingerprint: String { WeftIdentity.trustBundleFingerprint(trustBundle) }

    private init(
        trustDomain: String,
        certificate: Certificate,
        intermediates: [Certificate],
        root: Certificate,
        privateKey: P256.Signing.PrivateKey
    ) {
        self.trustDomain = trustDomain
        self.certificate = certificate
        self.intermediates = intermediates
        self.trustBundle = [root]
        self.chain = certificate == root ? [] : [certificate] + intermediates
        self.privateKey = privateKey
    }

    // MARK: - A new root

    /// Generates a self-signed root CA with a fresh P-256 key.
    ///
    /// Subject `CN=Weft root CA, O=<trust domain>`. The root carries the URI SAN `spiffe://<trust domain>`
    /// (non-critical): the X509-SVID spec says signing certificates SHOULD be SVIDs with a path-less SPIFFE ID, and it
    /// lets a peer see which trust domain a bundle belongs to. No path length limit, so that weftd may later issue
    /// intermediates (say, one per replica) under the same root without nodes re-trusting anything.
    public static func generateRoot(
        trustDomain: String,
        validity: Duration = defaultRootValidity,
        now: Date = Date()
    ) throws(IdentityError) -> CertificateAuthority {
        guard SPIFFEID.isValidTrustDomain(trustDomain) else { throw .invalidTrustDomain(trustDomain) }
        guard validity > .zero else { throw .invalidValidity(requested: validity) }

        let now = now.wholeSeconds
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let root: Certificate
        do {
            let name = try DistinguishedName {
                OrganizationName(trustDomain)
                CommonName("Weft root CA")
            }
            let extensions = try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
                SubjectAlternativeNames([.uniformResourceIdentifier("spiffe://\(trustDomain)")])
            }
            root = try Certificate(
                version: .v3,
                serialNumber: Serial.random(),
                publicKey: publicKey,
                notValidBefore: now - clockSkewAllowance,
                notValidAfter: now + validity.timeInterval,
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: Certificate.PrivateKey(key)
            )
        } catch {
            throw .encodingFailed("\(error)")
        }
        return CertificateAuthority(
            trustDomain: trustDomain, certificate: root, intermediates: [], root: root, privateKey: key)
    }

    // MARK: - Loading the user's own CA

    /// Loads a root or an intermediate CA and its key.
    ///
    /// - Parameters:
    ///   - certificatePEM: the CA certificate; it may be followed by its issuers (a "full chain" file).
    ///   - privateKeyPEM: its ECDSA P-256 key, PKCS#8 or SEC1, unencrypted.
    ///   - intermediatesPEM: for an intermediate, the certificates above it up to and including the self-signed
    ///     root, in any order.
    ///   - trustDomain: the trust domain to issue for.
    ///   - now: the time against which validity is checked.
    ///
    /// Refuses a certificate that is not a CA or may not sign certificates, a key that is not P-256 or not the
    /// certificate's, an expired or not yet valid certificate anywhere in the chain, a chain that does not reach a
    /// self-signed root, a certificate among the intermediates that is not on that path, and unparsable PEM.
    public init(
        certificatePEM: String,
        privateKeyPEM: String,
        intermediatesPEM: String? = nil,
        trustDomain: String,
        now: Date = Date()
    ) throws(IdentityError) {
        guard SPIFFEID.isValidTrustDomain(trustDomain) else { throw .invalidTrustDomain(trustDomain) }

        let given = try PEM.certificates(fromPEM: certificatePEM, source: "the CA certificate")
        let signing = given[0]
        var pool = Array(given.dropFirst())
        if let intermediatesPEM {
            pool += try PEM.certificates(fromPEM: intermediatesPEM, source: "the intermediates")
        }

        // The signing certificate first, so that a wrong file is named as such before any key comparison.
        try Self.checkIsUsableCA(signing, caCertificatesBelow: 0, now: now)
        guard let certificateKey = P256.Signing.PublicKey(signing.publicKey) else {
            throw .unsupportedKeyAlgorithm(source: "the CA certificate", found: signing.publicKey.keyTypeName)
        }
        let key = try PEM.p256PrivateKey(fromPEM: privateKeyPEM, source: "the CA private key")
        guard key.publicKey.rawRepresentation == certificateKey.rawRepresentation else {
            throw .keyDoesNotMatchCertificate(subject: signing.displayName)
        }
        if let uris = signing.uriSubjectAlternativeNames {
            for uri in uris where uri.hasPrefix("spiffe://") {
                let domain = String(uri.dropFirst("spiffe://".count).prefix { $0 != "/" })
                if domain != trustDomain {
                    throw .trustDomainMismatch(certificateTrustDomain: domain, configured: trustDomain)
                }
            }
        }

        // Walk up from the signing certificate to a self-signed root through the given certificates.
        var path = [signing]
        while let top = path.last, !top.isSelfSigned {
            let sameName = pool.indices.filter { pool[$0].subject == top.issuer }
            guard !sameName.isEmpty else {
                throw .incompleteChain(subject: top.displayName, issuer: top.issuer.description)
            }
            guard let index = sameName.first(where: { pool[$0].publicKey.isValidSignature(top.signature, for: top) })
            else {
                throw .chainSignatureInvalid(subject: top.displayName, issuer: top.issuer.description)
            }
            let issuer = pool.remove(at: index)
            try Self.checkIsUsableCA(issuer, caCertificatesBelow: path.count, now: now)
            path.append(issuer)
        }
        if let stray = pool.first {
            throw .unrelatedCertificate(subject: stray.displayName)
        }

        self.init(
            trustDomain: trustDomain,
            certificate: signing,
            intermediates: Array(path.dropFirst().dropLast()),
            root: path[path.count - 1],
            privateKey: key
        )
    }

    /// Checks what every certificate on the CA's path needs: valid now, basic constraints cA, keyCertSign, and a path
    /// length that allows the CAs below it (`caCertificatesBelow`: 0 for the signing certificate).
    private static func checkIsUsableCA(_ certificate: Certificate, caCertificatesBelow: Int, now: Date)
        throws(IdentityError)
    {
        let subject = certificate.displayName
        if now < certificate.notValidBefore {
            throw .certificateNotYetValid(subject: subject, notBefore: certificate.notValidBefore)
        }
        if now > certificate.notValidAfter {
            throw .certificateExpired(subject: subject, notAfter: certificate.notValidAfter)
        }
        let basicConstraints: BasicConstraints?
        let keyUsage: KeyUsage?
        do {
            basicConstraints = try certificate.extensions.basicConstraints
            keyUsage = try certificate.extensions.keyUsage
        } catch {
            throw .invalidExtension(subject: subject, reason: "\(error)")
        }
        guard case .isCertificateAuthority(let maxPathLength) = basicConstraints else {
            throw .notACertificateAuthority(subject: subject)
        }
        guard keyUsage?.keyCertSign == true else { throw .missingKeyCertSign(subject: subject) }
        // A self-signed root is not counted by pathLenConstraint for itself; only the CAs below it are.
        if let maxPathLength, caCertificatesBelow > maxPathLength {
            throw .pathLengthExceeded(
                subject: subject, maxPathLength: maxPathLength, caCertificatesBelow: caCertificatesBelow)
        }
    }

    // MARK: - Signing

    /// The latest `notAfter` an issued certificate may have: none may outlive a certificate above it.
    var latestNotAfter: Date {
        ([certificate] + intermediates + trustBundle).map(\.notValidAfter).min() ?? certificate.notValidAfter
    }

    var signingKey: Certificate.PrivateKey { Certificate.PrivateKey(privateKey) }

    var authorityKeyIdentifier: AuthorityKeyIdentifier {
        let ski =
            (try? certificate.extensions.subjectKeyIdentifier) ?? SubjectKeyIdentifier(hash: certificate.publicKey)
        return AuthorityKeyIdentifier(keyIdentifier: ski.keyIdentifier)
    }
}

extension CertificateAuthority: CustomStringConvertible {
    /// Names the CA without revealing key material, so a CA value can be logged.
    public var description: String {
        "CertificateAuthority(trustDomain: \(trustDomain), subject: \(certificate.displayName), notAfter: \(IdentityError.format(certificate.notValidAfter)), root fingerprint: \(trustBundleFingerprint))"
    }
}
