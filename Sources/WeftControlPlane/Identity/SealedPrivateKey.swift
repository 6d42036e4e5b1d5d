import Crypto
import Foundation

/// A private key sealed with AES-256-GCM under a `KeyEncryptionKey`, as the store holds it. The associated data
/// binds the box to the record it belongs to, so a box copied into another record does not open.
struct SealedPrivateKey: Codable, Equatable, Sendable {
    /// The format: 1 is AES-256-GCM, `sealedBox` being nonce, ciphertext and tag.
    static let currentVersion = 1

    var version: Int
    /// `KeyEncryptionKey.id` of the key that sealed it.
    var keyID: String
    /// Base64 of the combined sealed box.
    var sealedBox: String

    enum CodingKeys: String, CodingKey {
        case version
        case keyID = "key_id"
        case sealedBox = "sealed_box"
    }

    /// Why a sealed key does not open.
    enum OpenError: Error, Equatable {
        case unsupportedVersion(Int)
        case wrongKey(sealedWith: String, given: String)
        /// The box is damaged, or belongs to another record.
        case notAuthentic
    }

    static func seal(_ pem: String, with kek: KeyEncryptionKey, binding associatedData: Data) -> SealedPrivateKey {
        // AES.GCM.seal only throws for a key of the wrong size, and a KeyEncryptionKey is always 256 bits.
        guard let box = try? AES.GCM.seal(Data(pem.utf8), using: kek.key, authenticating: associatedData),
            let combined = box.combined
        else { preconditionFailure("AES-256-GCM sealing with a 256-bit key failed") }
        return SealedPrivateKey(
            version: currentVersion, keyID: kek.id, sealedBox: combined.base64EncodedString())
    }

    func open(with kek: KeyEncryptionKey, binding associatedData: Data) throws(OpenError) -> String {
        guard version == Self.currentVersion else { throw .unsupportedVersion(version) }
        guard keyID == kek.id else { throw .wrongKey(sealedWith: keyID, given: kek.id) }
        guard let combined = Data(base64Encoded: sealedBox),
            let box = try? AES.GCM.SealedBox(combined: combined),
            let plaintext = try? AES.GCM.open(box, using: kek.key, authenticating: associatedData),
            let pem = String(data: plaintext, encoding: .utf8)
        else { throw .notAuthentic }
        return pem
    }
}
