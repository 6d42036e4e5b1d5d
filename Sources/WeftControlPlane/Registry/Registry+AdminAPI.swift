import Foundation
import WeftCore

extension Registry {
    /// Removes a node and its endpoints when it is at revision `ifMatch` (any revision when nil), and in the same
    /// change revokes every certificate issued to it that has not expired: its peers refuse them at the next config
    /// push. Services it discovered stay (admins delete services). Returns the revision of the change.
    @discardableResult
    public func deleteNode(_ name: String, ifMatch: Int64?, actor: String) async throws(RegistryError) -> Int64 {
        guard let existing = try await node(name) else { throw .notFound(kind: "node", key: name) }
        let at = now()
        let revoked = Set(try await revokedCertificates().map(\.serialNumber))
        let revocations = try await issuedCertificates()
            .filter { $0.node == name && $0.notAfter > at && !revoked.contains($0.serialNumber) }
            .map {
                ObjectChange.put(
                    .revokedCertificate, $0.serialNumber,
                    StoredCoding.encode(Self.revocation(of: $0, at: at, by: actor, reason: .nodeDeleted)))
            }
        return try await apply(
            [
                .delete(.node, name, precondition: .revision(ifMatch ?? existing.revision)),
                .delete(.nodeEndpoints, name),
            ] + revocations,
            actor: actor, action: "delete node \(name) (revoking \(revocations.count) certificates)"
        )
    }
}
