import Foundation
import Hummingbird
import WeftCore

extension AdminAPI {
    /// The audit log, oldest first: every write with who made it, when, and the object before and after. Page with
    /// `after` (the `next_after` of the previous page) and `limit`.
    func addAuditRoutes(to routes: AdminRouteTable) {
        routes.get("/v1/audit") { request, _ in
            let after = try Input.integer("after", request, default: 0, range: 0...Int(Int64.max))
            let limit = try Input.integer("limit", request, default: 100, range: 1...1000)
            let entries = try await registry.auditEntries(afterID: Int64(after), limit: limit)
            let page = AuditPage(entries: entries, nextAfter: entries.last?.id ?? Int64(after))
            return JSONResponse.make(page, etag: try await registry.revision())
        }
    }
}
