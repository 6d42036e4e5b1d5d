import Crypto
import Foundation
import SwiftASN1
import WeftCore
import WeftIdentity
import X509

/// Builders for certificates and CSRs the production API would never make: foreign key types, extra names, CAs
/// with odd constraints.
enum Fixture {
    static let trustDomain = "weft.local"
    static let cart = SPIFFEID.workload(trustDomain: trustDomain, namespace: "shop", service: "cart")
    static let payments = SPIFFEID.workload(trustDomain: trustDomain, namespace: "shop", service: "payments")
    /// A fixed issuance time, so that expiry arithmetic in tests is exact.
    static let now = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

    /// A DER CSR with exactly the SAN names given (no extension request at all when `names` is nil).
    static func csr(
        names: [GeneralName]?,
        key: Certificate.PrivateKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
    ) throws -> [UInt8] {
        var attributes = CertificateSigningRequest.Attributes()
        if let names {
            let extensions = try Certificate.Extensions {
                Critical(SubjectAlternativeNames(names))
            }
            attributes.insert(try .init(ExtensionRequest(extensions: extensions)))
        }
        let csr = try CertificateSigningRequest(
            version: .v1, subject: DistinguishedName(), privateKey: key, attributes: attributes)
        return try der(csr)
    }

    /// A DER CSR whose extension request holds only key usage, no SAN.
    static func csrWithoutSAN() throws -> [UInt8] {
        let extensions = try Certificate.Extensions { Critical(KeyUsage(digitalSignature: true)) }
        let attributes = CertificateSigningRequest.Attributes([try .init(ExtensionRequest(extensions: extensions))])
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        return try der(
            CertificateSigningRequest(
                version: .v1, subject: DistinguishedName(), privateKey: key, attributes: attributes))
    }

    static func der(_ value: some DERSerializable) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(value)
        return serializer.serializedBytes
    }

    static func ipSAN(_ text: String) -> GeneralName {
        .ipAddress(ASN1OctetString(contentBytes: ArraySlice(IPAddress(text)!.bytes)))
    }

    /// A CA (or, with `isCA: false`, an end-entity) certificate signed by `issuer` (self-signed when nil).
    static func certificate(
        commonName: String,
        key: Certificate.PrivateKey,
        issuer: (name: DistinguishedName, key: Certificate.PrivateKey)? = nil,
        isCA: Bool = true,
        maxPathLength: Int? = nil,
        keyUsage: KeyUsage = KeyUsage(keyCertSign: true, cRLSign: true),
        notBefore: Date = now - 3_600,
        notAfter: Date = now + 365 * 86_400
    ) throws -> Certificate {
        let subject = try DistinguishedName {
            OrganizationName("Example Corp")
            CommonName(commonName)
        }
        let extensions = try Certificate.Extensions {
            Critical(
                isCA ? BasicConstraints.isCertificateAuthority(maxPathLength: maxPathLength) : .notCertificateAuthority)
            Critical(keyUsage)
            SubjectKeyIdentifier(hash: key.publicKey)
        }
        return try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: key.publicKey,
            notValidBefore: notBefore,
            notValidAfter: notAfter,
            issuer: issuer?.name ?? subject,
            subject: subject,
            extensions: extensions,
            issuerPrivateKey: issuer?.key ?? key
        )
    }

    /// The private key of a CA, for signing fixtures with it.
    static func signingKey(of ca: CertificateAuthority) throws -> Certificate.PrivateKey {
        Certificate.PrivateKey(try P256.Signing.PrivateKey(pemRepresentation: ca.privateKeyPEM))
    }

    /// An intermediate CA certificate with a fresh P-256 key, signed by `root`'s key.
    static func intermediate(
        of root: CertificateAuthority,
        commonName: String = "Example Weft intermediate",
        maxPathLength: Int? = nil
    ) throws -> (certificate: Certificate, key: P256.Signing.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        let certificate = try Fixture.certificate(
            commonName: commonName,
            key: Certificate.PrivateKey(key),
            issuer: (root.certificate.subject, try signingKey(of: root)),
            maxPathLength: maxPathLength
        )
        return (certificate, key)
    }

    static func pem(_ certificates: Certificate...) -> String {
        PEM.encode(certificates)
    }
}
