import Foundation
import WeftCore
import WeftIdentity

/// Finds the mesh CA: the user's own PEM files when configured, else the one in the store, else a new root
/// written to the store (replicas starting together agree on one: the first write wins, the others load it).
///
/// The store never holds the CA's private key in plaintext: it is sealed under the key-encryption key in
/// `KeyFile`, and a plaintext key left by an older weftd is sealed on the first start. A sealed key that does not
/// open stops the start; weftd never makes a new CA over it.
public enum AuthorityLoader {
    public struct Files: Sendable {
        public var certificate: String
        public var privateKey: String
        public var intermediates: String?

        public init(certificate: String, privateKey: String, intermediates: String? = nil) {
            self.certificate = certificate
            self.privateKey = privateKey
            self.intermediates = intermediates
        }
    }

    /// Where the key-encryption key lives, and whether weftd may create it there when the store holds no
    /// sealed key yet.
    public struct KeyFile: Sendable, Equatable {
        public var path: String
        public var mayCreate: Bool

        public init(path: String, mayCreate: Bool) {
            self.path = path
            self.mayCreate = mayCreate
        }
    }

    static let key = "mesh"

    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(path: String, reason: String)
        case invalid(IdentityError)
        case trustDomainMismatch(stored: String, configured: String)
        case keyEncryptionKey(KeyEncryptionKeyError)
        /// The store holds a sealed CA key, and the key-encryption key file is not there.
        case sealedKeyWithoutKeyFile(path: String)
        /// The store's CA key was sealed under another key-encryption key than the one in `path`.
        case wrongKeyEncryptionKey(path: String, sealedWith: String, given: String)
        /// The sealed CA key does not open with the right key: the record was damaged or altered.
        case sealedKeyNotAuthentic(path: String)
        case sealedKeyFormatTooNew(version: Int)
        case recordWithoutKey

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
            case .invalid(let error): return "the CA is not usable: \(error)"
            case .trustDomainMismatch(let stored, let configured):
                return
                    "the store's CA is for trust domain '\(stored)' but weftd is configured for '\(configured)': a trust domain cannot change after the first start"
            case .keyEncryptionKey(let error): return "\(error)"
            case .sealedKeyWithoutKeyFile(let path):
                return
                    "the store holds the mesh CA's private key sealed under a key-encryption key, but \(path) does not exist: restore that file (every weftd sharing a database needs a copy), or point ca_key_encryption_key_file at it; weftd does not make a new CA over the existing one"
            case .wrongKeyEncryptionKey(let path, let sealedWith, let given):
                return
                    "the mesh CA's private key in the store was sealed under key-encryption key \(sealedWith), but \(path) holds key \(given): use the file of the weftd that created the CA"
            case .sealedKeyNotAuthentic(let path):
                return
                    "the mesh CA's sealed private key in the store does not open with \(path) although the key ids match: the CA record was damaged or altered"
            case .sealedKeyFormatTooNew(let version):
                return "the mesh CA's private key was sealed in format \(version), newer than this weftd: upgrade weftd"
            case .recordWithoutKey: return "the mesh CA record in the store holds no private key"
            }
        }
    }

    public static func load(trustDomain: String, files: Files?, keyFile: KeyFile, store: any Store) async throws
        -> CertificateAuthority
    {
        if let files {
            func read(_ path: String) throws -> String {
                do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
                    throw LoadError.unreadable(path: path, reason: "\(error.localizedDescription)")
                }
            }
            do {
                return try CertificateAuthority(
                    certificatePEM: try read(files.certificate), privateKeyPEM: try read(files.privateKey),
                    intermediatesPEM: try files.intermediates.map(read), trustDomain: trustDomain
                )
            } catch let error as IdentityError { throw LoadError.invalid(error) }
        }
        for _ in 0..<3 {
            if let object = try await store.object(.certificateAuthority, key) {
                let stored = try StoredCoding.decode(StoredAuthority.self, from: object)
                guard stored.trustDomain == trustDomain else {
                    throw LoadError.trustDomainMismatch(stored: stored.trustDomain, configured: trustDomain)
                }
                if let sealed = stored.sealedPrivateKey {
                    return try authority(stored, privateKeyPEM: open(sealed, of: stored, keyFile: keyFile))
                }
                guard let plaintext = stored.privateKeyPEM else { throw LoadError.recordWithoutKey }
                let authority = try authority(stored, privateKeyPEM: plaintext)
                let record = StoredAuthority.sealed(
                    trustDomain: stored.trustDomain, certificatePEM: stored.certificatePEM,
                    intermediatesPEM: stored.intermediatesPEM, privateKeyPEM: plaintext,
                    with: try keyEncryptionKey(keyFile))
                do {
                    try await store.apply(
                        [
                            .put(
                                .certificateAuthority, key, StoredCoding.encode(record),
                                precondition: .revision(object.revision))
                        ],
                        audit: AuditContext(actor: "weftd", action: "seal the mesh CA's private key")
                    )
                    return authority
                } catch StoreError.conflict {
                    continue
                }
            }
            let kek = try keyEncryptionKey(keyFile)
            let generated = try CertificateAuthority.generateRoot(trustDomain: trustDomain)
            let record = StoredAuthority.sealed(
                trustDomain: trustDomain, certificatePEM: generated.certificatePEM, intermediatesPEM: nil,
                privateKeyPEM: generated.privateKeyPEM, with: kek)
            do {
                try await store.apply(
                    [.put(.certificateAuthority, key, StoredCoding.encode(record), precondition: .absent)],
                    audit: AuditContext(actor: "weftd", action: "create the mesh root CA")
                )
                return generated
            } catch StoreError.conflict {
                continue
            }
        }
        throw StoreError.unavailable("the CA record kept changing while weftd started")
    }

    private static func authority(_ stored: StoredAuthority, privateKeyPEM: String) throws -> CertificateAuthority {
        do {
            return try CertificateAuthority(
                certificatePEM: stored.certificatePEM, privateKeyPEM: privateKeyPEM,
                intermediatesPEM: stored.intermediatesPEM, trustDomain: stored.trustDomain
            )
        } catch { throw LoadError.invalid(error) }
    }

    private static func open(_ sealed: SealedPrivateKey, of stored: StoredAuthority, keyFile: KeyFile) throws(LoadError)
        -> String
    {
        let kek: KeyEncryptionKey
        do { kek = try KeyEncryptionKey.read(path: keyFile.path) } catch {
            if case .missing = error { throw .sealedKeyWithoutKeyFile(path: keyFile.path) }
            throw .keyEncryptionKey(error)
        }
        do { return try sealed.open(with: kek, binding: stored.associatedData) } catch {
            switch error {
            case .unsupportedVersion(let version): throw .sealedKeyFormatTooNew(version: version)
            case .wrongKey(let sealedWith, let given):
                throw .wrongKeyEncryptionKey(path: keyFile.path, sealedWith: sealedWith, given: given)
            case .notAuthentic: throw .sealedKeyNotAuthentic(path: keyFile.path)
            }
        }
    }

    /// The key to seal with: the file's, or (when allowed) a new one written there.
    private static func keyEncryptionKey(_ keyFile: KeyFile) throws(LoadError) -> KeyEncryptionKey {
        do { return try KeyEncryptionKey.read(path: keyFile.path) } catch {
            guard case .missing = error, keyFile.mayCreate else { throw .keyEncryptionKey(error) }
            do { return try KeyEncryptionKey.create(path: keyFile.path) } catch { throw .keyEncryptionKey(error) }
        }
    }
}
