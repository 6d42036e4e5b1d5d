import Foundation
import WeftCore

extension Registry {
    /// How many records one pruning commit deletes at most.
    static let pruneBatchSize = 256

    /// Deletes the records of certificates that expired before `time`: issued-certificate records and revocations
    /// (a revocation matters only while its certificate is still valid). Returns how many went. A record that
    /// cannot be read stays; a batch another writer touched meanwhile is left for the next run.
    @discardableResult
    public func pruneCertificates(expiredBefore time: Date) async throws(RegistryError) -> Int {
        var pruned = 0
        for kind in [ObjectKind.issuedCertificate, .revokedCertificate] {
            let objects: [StoredObject]
            do { objects = try await store.objects(kind) } catch { throw .store(error) }
            let expired = objects.filter { object in
                guard let expiry = try? StoredCoding.decode(CertificateExpiry.self, from: object) else { return false }
                return expiry.notAfter < time
            }
            for start in stride(from: 0, to: expired.count, by: Self.pruneBatchSize) {
                let changes = expired[start..<min(start + Self.pruneBatchSize, expired.count)].map {
                    ObjectChange.delete(kind, $0.key, precondition: .revision($0.revision))
                }
                let action = "prune \(kind) records of certificates expired before \(time.formatted(.iso8601))"
                do {
                    try await store.apply(changes, audit: AuditContext(actor: "weftd", action: action))
                    pruned += changes.count
                } catch {
                    if case .conflict = error { continue }
                    throw .store(error)
                }
            }
        }
        return pruned
    }

    /// The one field pruning reads of issued-certificate and revoked-certificate records.
    private struct CertificateExpiry: Decodable {
        var notAfter: Date

        enum CodingKeys: String, CodingKey {
            case notAfter = "not_after"
        }
    }
}
