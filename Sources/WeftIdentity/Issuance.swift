import Crypto
import SwiftASN1
import WeftCore
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A certificate the CA issued for a SPIFFE ID.
public struct IssuedCertificate: Sendable, Hashable {
    /// The leaf followed by the CA's chain (without the root), PEM: what the workload presents in TLS.
    public let certificateChainPEM: String
    public let leaf: Certificate
    public let identity: SPIFFEID
    public let notBefore: Date
    public let notAfter: Date
    /// Lowercase hex, no separators.
    public let serialNumber: String
}

extension CertificateAuthority {
    /// Issues a workload or node certificate (an X509-SVID) for `identity` from a PEM CSR.
    /// See ``issueWorkloadCertificate(csrDER:for:ttl:now:)``.
    public func issueWorkloadCertificate(
        csrPEM: String,
        for identity: SPIFFEID,
        ttl: Duration,
        now: Date = Date()
    ) throws(CSRRejection) -> IssuedCertificate {
        let document: PEMDocument
        do {
            document = try PEMDocument(pemString: csrPEM)
        } catch {
            throw .unparsableCSR(reason: "not a single PEM block: \(error)")
        }
        guard document.discriminator == "CERTIFICATE REQUEST" || document.discriminator == "NEW CERTIFICATE REQUEST"
        else {
            throw .unparsableCSR(reason: "PEM block is '\(document.discriminator)', not 'CERTIFICATE REQUEST'")
        }
        return try issueWorkloadCertificate(csrDER: document.derBytes, for: identity, ttl: ttl, now: now)
    }

    /// Issues a workload or node certificate (an X509-SVID) for `identity` from a DER CSR.
    ///
    /// The caller decides which identity the requester may have (after authenticating it); the CSR must ask for
    /// exactly that: one SAN extension holding exactly one URI equal to `identity`, and no DNS name, IP address, email
    /// or other name. Its key must be ECDSA P-256 and its signature must verify. Everything else in the CSR (subject,
    /// other requested extensions) is ignored: the CA decides the certificate's contents.
    ///
    /// The leaf has an empty subject and a critical SAN with the SPIFFE ID, is not a CA, may be used for digital
    /// signatures only, and for TLS server and client authentication. It is valid from a little before `now` (clock
    /// skew) until `now + ttl`, but never beyond the CA's own certificates.
    public func issueWorkloadCertificate(
        csrDER: [UInt8],
        for identity: SPIFFEID,
        ttl: Duration,
        now: Date = Date()
    ) throws(CSRRejection) -> IssuedCertificate {
        let now = now.wholeSeconds
        guard ttl >= Self.minimumTTL, ttl <= Self.maximumTTL else {
            throw .ttlOutOfRange(requested: ttl, minimum: Self.minimumTTL, maximum: Self.maximumTTL)
        }
        guard (try? SPIFFEID(parsing: identity.description)) == identity else {
            throw .invalidIdentity(identity.description)
        }
        guard identity.trustDomain == trustDomain else {
            throw .foreignTrustDomain(identity: identity.description, trustDomain: trustDomain)
        }
        guard latestNotAfter >= now + Self.minimumTTL.timeInterval else {
            throw .authorityExpiresTooSoon(notAfter: latestNotAfter)
        }

        let csr = try Self.parseCSR(csrDER)
        try Self.checkRequestedNames(csr, identity: identity)

        let notBefore = max(now - Self.clockSkewAllowance, certificate.notValidBefore)
        let notAfter = min(now + ttl.timeInterval, latestNotAfter)
        let serial = Serial.random()
        let leaf: Certificate
        do {
            let extensions = try Certificate.Extensions {
                // Critical because the subject is empty (RFC 5280 4.1.2.6, X509-SVID 3.1).
                Critical(SubjectAlternativeNames([.uniformResourceIdentifier(identity.description)]))
                Critical(BasicConstraints.notCertificateAuthority)
                // digitalSignature only: TLS 1.3 (and ECDHE in 1.2) signs with the certificate key and does key
                // agreement with ephemeral keys, so keyAgreement (static ECDH) would only widen what the key may do.
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectKeyIdentifier(hash: csr.publicKey)
                authorityKeyIdentifier
            }
            leaf = try Certificate(
                version: .v3,
                serialNumber: serial,
                publicKey: csr.publicKey,
                notValidBefore: notBefore,
                notValidAfter: notAfter,
                issuer: certificate.subject,
                subject: DistinguishedName(),
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: signingKey
            )
        } catch {
            throw .signingFailed("\(error)")
        }
        return IssuedCertificate(
            certificateChainPEM: PEM.encode([leaf] + chain),
            leaf: leaf,
            identity: identity,
            notBefore: leaf.notValidBefore,
            notAfter: leaf.notValidAfter,
            serialNumber: hexString(serial.bytes)
        )
    }

    /// Parses the CSR and checks its signature and key type.
    private static func parseCSR(_ der: [UInt8]) throws(CSRRejection) -> CertificateSigningRequest {
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(derEncoded: der)
        } catch {
            throw .unparsableCSR(reason: "\(error)")
        }
        // Proof of possession: whoever sent this holds the private key of the public key it carries.
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else { throw .invalidSignature }
        guard P256.Signing.PublicKey(csr.publicKey) != nil else {
            throw .unsupportedKey(found: csr.publicKey.keyTypeName)
        }
        return csr
    }

    /// Checks that the CSR's only requested name is `identity`'s URI.
    private static func checkRequestedNames(_ csr: CertificateSigningRequest, identity: SPIFFEID) throws(CSRRejection) {
        let requests = csr.attributes.filter { $0.oid == .CSRAttributes.extensionRequest }
        guard requests.count <= 1 else { throw .unparsableCSR(reason: "more than one extension request attribute") }
        let requested: SubjectAlternativeNames?
        do {
            requested = try csr.attributes.extensionRequest?.extensions.subjectAlternativeNames
        } catch {
            throw .unparsableCSR(reason: "requested extensions: \(error)")
        }
        guard let names = requested else { throw .missingSubjectAlternativeName }

        var uris: [String] = []
        for name in names {
            switch name {
            case .uniformResourceIdentifier(let uri):
                uris.append(uri)
            case .dnsName(let dnsName):
                throw .dnsNameNotAllowed(dnsName)
            case .ipAddress(let octets):
                let text = IPAddress(bytes: octets.bytes).map(\.description) ?? "0x\(hexString(octets.bytes))"
                throw .ipAddressNotAllowed(text)
            case .rfc822Name(let email):
                throw .emailAddressNotAllowed(email)
            default:
                throw .unsupportedName("\(name)")
            }
        }
        guard !uris.isEmpty else { throw .missingSubjectAlternativeName }
        guard uris.count == 1 else { throw .multipleURIs(uris) }
        let uri = uris[0]
        guard !uri.contains("*") else { throw .wildcardURI(uri) }
        guard uri == identity.description else {
            throw .identityMismatch(requested: uri, allowed: identity.description)
        }
    }

    // MARK: - Server certificates

    /// Issues a TLS server certificate for weftd's own listeners (admin API, node API), with a fresh P-256 key made
    /// here. SANs: the DNS names and IP addresses given (at least one); EKU serverAuth only.
    public func issueServerCertificate(
        dnsNames: [String],
        ipAddresses: [IPAddress],
        ttl: Duration,
        now: Date = Date()
    ) throws(IdentityError) -> (certificateChainPEM: String, privateKeyPEM: String) {
        let now = now.wholeSeconds
        guard ttl >= Self.minimumTTL, ttl <= Self.maximumTTL else {
            throw .ttlOutOfRange(requested: ttl, minimum: Self.minimumTTL, maximum: Self.maximumTTL)
        }
        guard !dnsNames.isEmpty || !ipAddresses.isEmpty else { throw .noServerNames }
        for name in dnsNames where !Self.isValidDNSName(name) {
            throw .invalidDNSName(name)
        }
        guard latestNotAfter >= now + Self.minimumTTL.timeInterval else {
            throw .authorityExpiresTooSoon(notAfter: latestNotAfter)
        }

        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let names: [GeneralName] =
            dnsNames.map { .dnsName($0) }
            + ipAddresses.map { .ipAddress(ASN1OctetString(contentBytes: ArraySlice($0.bytes))) }
        let leaf: Certificate
        do {
            let subject = try DistinguishedName {
                OrganizationName(trustDomain)
                CommonName(dnsNames.first ?? ipAddresses[0].description)
            }
            let extensions = try Certificate.Extensions {
                SubjectAlternativeNames(names)
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectKeyIdentifier(hash: publicKey)
                authorityKeyIdentifier
            }
            leaf = try Certificate(
                version: .v3,
                serialNumber: Serial.random(),
                publicKey: publicKey,
                notValidBefore: max(now - Self.clockSkewAllowance, certificate.notValidBefore),
                notValidAfter: min(now + ttl.timeInterval, latestNotAfter),
                issuer: certificate.subject,
                subject: subject,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: extensions,
                issuerPrivateKey: signingKey
            )
        } catch {
            throw .encodingFailed("\(error)")
        }
        return (PEM.encode([leaf] + chain), key.pemRepresentation + "\n")
    }

    /// Dot-separated labels of letters, digits and '-' (not at either end), 1 to 63 characters each, 253 in all.
    static func isValidDNSName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 253 else { return false }
        return bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).allSatisfy { label in
            guard !label.isEmpty, label.count <= 63,
                label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-")
            else { return false }
            return label.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                    || byte == UInt8(ascii: "-")
            }
        }
    }
}
