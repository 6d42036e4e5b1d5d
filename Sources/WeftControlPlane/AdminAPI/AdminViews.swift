import Foundation
import WeftCore

// The admin API's bodies are WeftCore's (Sources/WeftCore/AdminAPI), shared with WeftAdminClient; these build them
// from what the registry keeps.

extension AdminNode {
    init(_ view: NodeView, stream: NodeStreamStatus?) {
        self.init(
            record: view.node, lastSeen: view.lastSeen, revision: view.revision, endpoints: view.endpoints,
            stream: stream)
    }
}

extension JoinTokenInfo {
    init(_ record: JoinTokenRecord, now: Date) {
        self.init(
            id: record.id, node: record.nodeName, state: record.state(at: now), createdAt: record.createdAt,
            expiresAt: record.expiresAt, createdBy: record.createdBy, usedAt: record.usedAt,
            revokedAt: record.revokedAt,
            addresses: record.addresses
        )
    }
}

extension AdminToken {
    /// `token` only in the answer to creating it.
    init(_ record: AdminTokenRecord, token: String? = nil) {
        self.init(id: record.id, name: record.name, scope: record.scope, createdAt: record.createdAt, token: token)
    }
}
