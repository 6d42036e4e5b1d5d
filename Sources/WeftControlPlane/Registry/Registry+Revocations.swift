import Foundation
import WeftCore

extension Registry {
    /// Revokes the certificate with serial number `serial` (hex, as `GET /v1/certificates` lists it): every node
    /// refuses it in handshakes and closes connections made with it once the next config reaches it, and weftd
    /// refuses it as a node's credential. Revoking a revoked certificate changes nothing.
    @discardableResult
    public func revokeCertificate(serial text: String, actor: String) async throws(RegistryError)
        -> RevokedCertificate
    {
        let serial = text.lowercased()
        guard !serial.isEmpty, serial.count <= 64, serial.allSatisfy(\.isHexDigit) else {
            throw .invalid(
                field: "serial",
                reason: "'\(text)' is not a serial number: use the hex digits GET /v1/certificates lists")
        }
        if let existing = try await one(.revokedCertificate, serial, as: RevokedCertificate.self) {
            return existing.value
        }
        guard let issued = try await one(.issuedCertificate, serial, as: IssuedCertificateRecord.self)?.value else {
            throw .notFound(kind: "certificate", key: serial)
        }
        let revocation = Self.revocation(of: issued, at: now(), by: actor, reason: .revokedByAdmin)
        do {
            _ = try await apply(
                [.put(.revokedCertificate, serial, StoredCoding.encode(revocation), precondition: .absent)],
                actor: actor, action: "revoke certificate \(serial) of \(issued.identity)")
        } catch {
            // Revoked by someone else at the same moment: the answer is theirs.
            guard case .staleRevision = error,
                let existing = try await one(.revokedCertificate, serial, as: RevokedCertificate.self)
            else { throw error }
            return existing.value
        }
        return revocation
    }

    public func revokedCertificates() async throws(RegistryError) -> [RevokedCertificate] {
        try await all(.revokedCertificate, as: RevokedCertificate.self, skippingUnreadable: true).map(\.value)
    }

    /// Whether the certificate with this serial number was revoked.
    public func isRevoked(serial: String) async throws(RegistryError) -> Bool {
        try await one(.revokedCertificate, serial.lowercased(), as: RevokedCertificate.self) != nil
    }

    static func revocation(of issued: IssuedCertificateRecord, at: Date, by actor: String, reason: RevocationReason)
        -> RevokedCertificate
    {
        RevokedCertificate(
            serialNumber: issued.serialNumber, identity: issued.identity, node: issued.node, notAfter: issued.notAfter,
            revokedAt: at, revokedBy: actor, reason: reason)
    }
}
