import Foundation
import WeftCore

extension Registry {
    /// Removes a node and its endpoints when it is at revision `ifMatch` (any revision when nil). Returns the
    /// revision of the change.
    @discardableResult
    public func deleteNode(_ name: String, ifMatch: Int64?, actor: String) async throws(RegistryError) -> Int64 {
        guard let existing = try await node(name) else { throw .notFound(kind: "node", key: name) }
        return try await apply(
            [
                .delete(.node, name, precondition: .revision(ifMatch ?? existing.revision)),
                .delete(.nodeEndpoints, name),
            ],
            actor: actor, action: "delete node \(name)"
        )
    }
}
