import Foundation
import WeftCore

extension Registry {
    /// Makes an admin API bearer token; the text is returned once, only its hash is stored.
    public func createAdminToken(name: String, scope: AdminTokenScope, actor: String) async throws(RegistryError)
        -> (text: String, record: AdminTokenRecord)
    {
        do { try DNSLabel.validate(name) } catch { throw .invalid(field: "name", reason: error.description) }
        let id = TokenText.random(bytes: 6)
        let secret = TokenText.random(bytes: 24)
        let record = AdminTokenRecord(
            id: id, name: name, scope: scope, secretSHA256: TokenText.sha256(secret), createdAt: now())
        _ = try await apply(
            [.put(.adminToken, id, StoredCoding.encode(record), precondition: .absent)],
            actor: actor, action: "create \(scope.rawValue) admin token \(name)"
        )
        return ("\(TokenText.adminPrefix).\(id).\(secret)", record)
    }

    public func adminTokens() async throws(RegistryError) -> [AdminTokenRecord] {
        try await all(.adminToken, as: AdminTokenRecord.self, skippingUnreadable: true).map(\.value)
    }

    /// Deletes a token; never the last admin token (nobody could make tokens or change the mesh's settings any more).
    public func deleteAdminToken(id: String, actor: String) async throws(RegistryError) {
        let tokens = try await all(.adminToken, as: AdminTokenRecord.self)
        guard let token = tokens.first(where: { $0.value.id == id }) else {
            throw .notFound(kind: "admin token", key: id)
        }
        let admins = tokens.filter { $0.value.scope == .admin }
        if token.value.scope == .admin, admins.count == 1 {
            throw .refusedChange(
                "admin token \(id) is the last token with admin scope: create another first (weftctl admin-tokens create NAME --scope admin)"
            )
        }
        var changes: [ObjectChange] = [.delete(.adminToken, id, precondition: .revision(token.revision))]
        if token.value.scope == .admin, let survivor = admins.first(where: { $0.value.id != id }) {
            // Rewritten unchanged, so that two deletes racing for the last two admin tokens conflict.
            changes.append(
                .put(
                    .adminToken, survivor.value.id, StoredCoding.encode(survivor.value),
                    precondition: .revision(survivor.revision)))
        }
        _ = try await apply(changes, actor: actor, action: "delete admin token \(id)")
    }

    /// The token a bearer string stands for, or nil.
    public func authenticate(bearer: String) async throws(RegistryError) -> AdminTokenRecord? {
        guard let parsed = TokenText.parse(bearer, prefix: TokenText.adminPrefix), parsed.fingerprint == nil,
            let stored = try await one(.adminToken, parsed.id, as: AdminTokenRecord.self),
            TokenText.constantTimeEqual(stored.value.secretSHA256, TokenText.sha256(parsed.secret))
        else { return nil }
        return stored.value
    }

    /// On a store with no admin token yet, makes an admin-scoped token named `bootstrap` (with a random id) and writes it to `file` (mode
    /// 0600). Returns true when it did. Replicas racing here: one wins, the others find a token and do nothing.
    @discardableResult
    public func ensureBootstrapToken(file: String) async throws -> Bool {
        // Every stored token counts here, also one that cannot be decoded.
        guard try await store.objects(.adminToken).isEmpty else { return false }
        let secret = TokenText.random(bytes: 24)
        let id = TokenText.random(bytes: 6)
        let record = AdminTokenRecord(
            id: id, name: "bootstrap", scope: .admin, secretSHA256: TokenText.sha256(secret), createdAt: now())
        do {
            try await store.apply(
                [
                    .put(.bootstrapGuard, "admin-token", Data(id.utf8), precondition: .absent),
                    .put(.adminToken, id, StoredCoding.encode(record), precondition: .absent),
                ],
                audit: AuditContext(actor: "weftd", action: "create bootstrap admin token")
            )
        } catch {
            if case .conflict = error { return false }
            throw error
        }
        let text = "\(TokenText.adminPrefix).\(id).\(secret)\n"
        let directory = (file as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard
            FileManager.default.createFile(
                atPath: file, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw RegistryError.invalid(field: "admin token file", reason: "cannot write \(file)")
        }
        return true
    }
}
