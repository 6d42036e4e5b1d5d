import Foundation

/// The mesh CA as the store holds it: the certificates in PEM, the private key sealed (`SealedPrivateKey`).
/// Records from before sealing hold `privateKeyPEM` instead; `AuthorityLoader` seals them on the next start.
struct StoredAuthority: Codable, Equatable {
    var trustDomain: String
    var certificatePEM: String
    var intermediatesPEM: String?
    var sealedPrivateKey: SealedPrivateKey?
    /// Only in records written before the key was sealed.
    var privateKeyPEM: String?

    enum CodingKeys: String, CodingKey {
        case trustDomain = "trust_domain"
        case certificatePEM = "certificate_pem"
        case intermediatesPEM = "intermediates_pem"
        case sealedPrivateKey = "sealed_private_key"
        case privateKeyPEM = "private_key_pem"
    }

    /// What the sealed key is bound to: this record's trust domain and certificate.
    var associatedData: Data {
        Data("weft mesh CA private key\0\(trustDomain)\0\(certificatePEM)".utf8)
    }

    /// A record holding `privateKeyPEM` sealed under `kek`, and no plaintext.
    static func sealed(
        trustDomain: String, certificatePEM: String, intermediatesPEM: String?, privateKeyPEM: String,
        with kek: KeyEncryptionKey
    ) -> StoredAuthority {
        var record = StoredAuthority(
            trustDomain: trustDomain, certificatePEM: certificatePEM, intermediatesPEM: intermediatesPEM)
        record.sealedPrivateKey = SealedPrivateKey.seal(privateKeyPEM, with: kek, binding: record.associatedData)
        return record
    }
}
