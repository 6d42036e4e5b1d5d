import Crypto
import SwiftASN1
import WeftCore
import X509

/// The node side of issuance: keys are made where they are used, and only CSRs travel to the control plane.
public enum CertificateRequestFactory {
    /// A fresh ECDSA P-256 key and a CSR for exactly `identity`: an empty subject and one critical SAN extension
    /// holding the SPIFFE ID as its only URI, signed with the new key.
    ///
    /// - Returns: the key as PKCS#8 PEM (keep it on this host), and the CSR as PEM and as DER (send either).
    public static func make(for identity: SPIFFEID) throws(IdentityError) -> (
        privateKeyPEM: String, csrPEM: String, csrDER: [UInt8]
    ) {
        let key = P256.Signing.PrivateKey()
        let csrDER = try csr(for: identity, privateKey: key)
        let csrPEM = PEMDocument(type: "CERTIFICATE REQUEST", derBytes: csrDER).pemString + "\n"
        return (key.pemRepresentation + "\n", csrPEM, csrDER)
    }

    /// A DER CSR for `identity`, signed by `privateKey`.
    public static func csr(for identity: SPIFFEID, privateKey: P256.Signing.PrivateKey) throws(IdentityError) -> [UInt8]
    {
        do {
            let extensions = try Certificate.Extensions {
                Critical(SubjectAlternativeNames([.uniformResourceIdentifier(identity.description)]))
            }
            let attributes = CertificateSigningRequest.Attributes([
                try CertificateSigningRequest.Attribute(ExtensionRequest(extensions: extensions))
            ])
            let csr = try CertificateSigningRequest(
                version: .v1,
                subject: DistinguishedName(),
                privateKey: Certificate.PrivateKey(privateKey),
                attributes: attributes,
                signatureAlgorithm: .ecdsaWithSHA256
            )
            var serializer = DER.Serializer()
            try serializer.serialize(csr)
            return serializer.serializedBytes
        } catch {
            throw .encodingFailed("certificate request for \(identity): \(error)")
        }
    }
}
