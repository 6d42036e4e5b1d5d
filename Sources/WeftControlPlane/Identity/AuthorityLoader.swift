import Foundation
import WeftCore
import WeftIdentity

/// Finds the mesh CA: the user's own PEM files when configured, else the one in the store, else a new root
/// written to the store (replicas starting together agree on one: the first write wins, the others load it).
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

    struct StoredAuthority: Codable, Equatable {
        var trustDomain: String
        var certificatePEM: String
        var privateKeyPEM: String
        var intermediatesPEM: String?

        enum CodingKeys: String, CodingKey {
            case trustDomain = "trust_domain"
            case certificatePEM = "certificate_pem"
            case privateKeyPEM = "private_key_pem"
            case intermediatesPEM = "intermediates_pem"
        }
    }

    static let key = "mesh"

    public enum LoadError: Error, CustomStringConvertible {
        case unreadable(path: String, reason: String)
        case invalid(IdentityError)
        case trustDomainMismatch(stored: String, configured: String)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
            case .invalid(let error): return "the CA is not usable: \(error)"
            case .trustDomainMismatch(let stored, let configured):
                return
                    "the store's CA is for trust domain '\(stored)' but weftd is configured for '\(configured)': a trust domain cannot change after the first start"
            }
        }
    }

    public static func load(trustDomain: String, files: Files?, store: any Store) async throws -> CertificateAuthority {
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
                do {
                    return try CertificateAuthority(
                        certificatePEM: stored.certificatePEM, privateKeyPEM: stored.privateKeyPEM,
                        intermediatesPEM: stored.intermediatesPEM, trustDomain: trustDomain
                    )
                } catch { throw LoadError.invalid(error) }
            }
            let generated = try CertificateAuthority.generateRoot(trustDomain: trustDomain)
            let stored = StoredAuthority(
                trustDomain: trustDomain, certificatePEM: generated.certificatePEM,
                privateKeyPEM: generated.privateKeyPEM,
                intermediatesPEM: nil
            )
            do {
                try await store.apply(
                    [.put(.certificateAuthority, key, StoredCoding.encode(stored), precondition: .absent)],
                    audit: AuditContext(actor: "weftd", action: "create the mesh root CA")
                )
                return generated
            } catch StoreError.conflict {
                continue
            }
        }
        throw StoreError.unavailable("the CA record kept changing while weftd started")
    }
}
