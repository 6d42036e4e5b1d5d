import Crypto
import SwiftASN1
import X509

/// Reading and writing PEM text (RFC 7468) for certificates and keys.
public enum PEM {
    static let certificateLabel = "CERTIFICATE"
    static let privateKeyLabels: Set<String> = ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"]
    static let encryptedPrivateKeyLabel = "ENCRYPTED PRIVATE KEY"

    /// Every `CERTIFICATE` block of `pem`, in order. Text between blocks is ignored; blocks of any other kind are an
    /// error, so that a key pasted where a certificate belongs is caught.
    /// - Parameter source: names the input in error messages, e.g. "the trust bundle".
    public static func certificates(fromPEM pem: String, source: String = "the PEM input") throws(IdentityError)
        -> [Certificate]
    {
        let documents = try self.documents(in: pem, source: source, expected: certificateLabel)
        var certificates: [Certificate] = []
        for document in documents {
            guard document.discriminator == certificateLabel else {
                throw .unexpectedPEMBlock(source: source, found: document.discriminator, expected: certificateLabel)
            }
            do {
                certificates.append(try Certificate(derEncoded: document.derBytes))
            } catch {
                throw .unparsablePEM(source: source, reason: "certificate \(certificates.count + 1): \(error)")
            }
        }
        return certificates
    }

    /// Exactly one `CERTIFICATE` block.
    public static func certificate(fromPEM pem: String, source: String = "the PEM input") throws(IdentityError)
        -> Certificate
    {
        let certificates = try certificates(fromPEM: pem, source: source)
        guard certificates.count == 1 else {
            throw .unparsablePEM(source: source, reason: "expected one certificate, found \(certificates.count)")
        }
        return certificates[0]
    }

    /// PEM text for the certificates, one block after another, ending in a newline.
    public static func encode(_ certificates: [Certificate]) -> String {
        certificates.map { PEMDocument(type: certificateLabel, derBytes: derBytes(of: $0)).pemString + "\n" }.joined()
    }

    /// PEM text for one certificate, ending in a newline.
    public static func encode(_ certificate: Certificate) -> String {
        encode([certificate])
    }

    /// The DER encoding of a certificate.
    public static func derBytes(of certificate: Certificate) -> [UInt8] {
        var serializer = DER.Serializer()
        do {
            try serializer.serialize(certificate)
        } catch {
            // Certificate.serialize only copies the bytes it was parsed or signed from; it has no failure path.
            preconditionFailure("serialising a Certificate cannot fail, but did: \(error)")
        }
        return serializer.serializedBytes
    }

    /// All PEM blocks in `pem`; at least one.
    static func documents(in pem: String, source: String, expected: String) throws(IdentityError) -> [PEMDocument] {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: pem)
        } catch {
            throw .unparsablePEM(source: source, reason: "\(error)")
        }
        guard !documents.isEmpty else { throw .noPEMBlock(source: source, expected: expected) }
        return documents
    }

    /// The one private key in `pem`, which must be ECDSA P-256. Accepts PKCS#8 (`PRIVATE KEY`) and SEC1
    /// (`EC PRIVATE KEY`, also with the `EC PARAMETERS` block `openssl ecparam -genkey` writes before it).
    static func p256PrivateKey(fromPEM pem: String, source: String) throws(IdentityError) -> P256.Signing.PrivateKey {
        let documents = try documents(in: pem, source: source, expected: "PRIVATE KEY")
        if documents.contains(where: { $0.discriminator == encryptedPrivateKeyLabel }) {
            throw .encryptedPrivateKey(source: source)
        }
        let keys = documents.filter { privateKeyLabels.contains($0.discriminator) }
        guard let document = keys.first else {
            let found = documents.first { $0.discriminator != "EC PARAMETERS" }?.discriminator ?? "EC PARAMETERS"
            throw .unexpectedPEMBlock(source: source, found: found, expected: "PRIVATE KEY")
        }
        guard keys.count == 1 else { throw .multiplePrivateKeys(source: source) }

        // Parse with swift-certificates first: it knows every key type, so a P-384 or RSA key is reported as such
        // instead of as "unparsable".
        let anyKey: Certificate.PrivateKey
        do {
            anyKey = try Certificate.PrivateKey(pemDocument: document)
        } catch {
            throw .unparsablePEM(source: source, reason: "\(error)")
        }
        guard P256.Signing.PublicKey(anyKey.publicKey) != nil else {
            throw .unsupportedKeyAlgorithm(source: source, found: anyKey.publicKey.keyTypeName)
        }
        do {
            return try P256.Signing.PrivateKey(pemRepresentation: document.pemString)
        } catch {
            throw .unparsablePEM(source: source, reason: "\(error)")
        }
    }
}

extension Certificate.PublicKey {
    /// "ECDSA P-384", "Ed25519", "RSA-2048": for messages.
    var keyTypeName: String {
        if P256.Signing.PublicKey(self) != nil { return "ECDSA P-256" }
        if P384.Signing.PublicKey(self) != nil { return "ECDSA P-384" }
        if P521.Signing.PublicKey(self) != nil { return "ECDSA P-521" }
        if Curve25519.Signing.PublicKey(self) != nil { return "Ed25519" }
        return description  // e.g. "RSA2048.PublicKey"
    }
}

/// The SHA-256 of the certificate's DER encoding as lowercase hex (64 characters), as join tokens pin the CA.
public func certificateFingerprint(_ certificate: Certificate) -> String {
    hexString(SHA256.hash(data: PEM.derBytes(of: certificate)))
}

/// The fingerprint of a trust bundle: the certificate fingerprints, sorted and joined with ','. One root gives its
/// plain fingerprint; the order of the bundle's certificates does not matter.
public func trustBundleFingerprint(_ trustBundle: [Certificate]) -> String {
    trustBundle.map(certificateFingerprint).sorted().joined(separator: ",")
}
