import Foundation
import Hummingbird
import WeftCore

/// The admin REST/JSON API: the registry's operations over HTTP, for weftctl, the web UI and scripts.
///
/// Each resource declares its routes in its own file (`NodeRoutes.swift`, `ServiceRoutes.swift`, …); this type
/// assembles them behind the error and authentication middleware. Every route is described in
/// `Sources/WeftAPI/openapi.yaml`; a test fails when one is missing there.
public struct AdminAPI: Sendable {
    public let registry: Registry
    /// Where GET /v1/nodes and /v1/status read each node's config stream from; nil shows none.
    public let nodeStatus: (any NodeStatusSource)?
    /// Files tried, in order, for GET /v1/openapi.yaml.
    public let openAPIDocumentPaths: [String]
    let now: @Sendable () -> Date

    public init(
        registry: Registry, nodeStatus: (any NodeStatusSource)? = nil,
        openAPIDocumentPaths: [String] = AdminAPI.defaultOpenAPIDocumentPaths,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.registry = registry
        self.nodeStatus = nodeStatus
        self.openAPIDocumentPaths = openAPIDocumentPaths
        self.now = now
    }

    /// The installed copy (Scripts/install puts it there), then the one in the source tree this binary was built
    /// from (development and tests).
    public static let defaultOpenAPIDocumentPaths: [String] = [
        "/usr/share/weft/openapi.yaml",
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("WeftAPI/openapi.yaml").path,
    ]

    /// Every route, for the test that compares them with the OpenAPI document.
    public var routes: [AdminRoute] { makeRouter().routes }

    /// The router with every route, ready for an `Application`.
    public func buildRouter() -> Router<AdminRequestContext> { makeRouter().router }

    func makeRouter() -> AdminRouteTable {
        let table = AdminRouteTable(
            router: Router(context: AdminRequestContext.self, options: [.autoGenerateHeadEndpoints]))
        table.router.add(middleware: AdminErrorMiddleware())
        // Routes before the authentication middleware need no token (see each for why that is safe).
        addTrustBundleRoute(to: table)
        addOpenAPIRoute(to: table)
        table.router.add(middleware: AdminAuthMiddleware(registry: registry))
        table.requireTokens()
        addStatusRoutes(to: table)
        addNodeRoutes(to: table)
        addJoinTokenRoutes(to: table)
        addServiceRoutes(to: table)
        addServicePlacementRoutes(to: table)
        addIntentionRoutes(to: table)
        addMeshRoutes(to: table)
        addTelemetryRoutes(to: table)
        addCertificateRoutes(to: table)
        addAuditRoutes(to: table)
        addAdminTokenRoutes(to: table)
        table.router.add(middleware: AdminMethodMiddleware(routes: table.routes))
        return table
    }

    func streams() -> [String: NodeStreamStatus] {
        var byNode: [String: NodeStreamStatus] = [:]
        for status in nodeStatus?.nodeStreamStatus() ?? [] { byNode[status.node] = status }
        return byNode
    }
}

/// One route of the admin API.
public struct AdminRoute: Sendable, Hashable, CustomStringConvertible {
    public var method: String
    /// With `{parameter}` placeholders, as in the OpenAPI document.
    public var path: String
    /// The scope a token needs for it; nil for the few routes that need no token.
    public var scope: AdminTokenScope?

    public var description: String { "\(method) \(path)" }
}

/// The router being built and the list of what was registered on it. Each route names the token scope it needs;
/// reads need `read`, and every change names its scope where it is declared, so no route can be forgotten.
final class AdminRouteTable {
    let router: Router<AdminRequestContext>
    private(set) var routes: [AdminRoute] = []
    private var needsToken = false

    init(router: Router<AdminRequestContext>) { self.router = router }

    typealias Handler = @Sendable (Request, AdminRequestContext) async throws -> Response

    func on(_ method: HTTPRequest.Method, _ path: String, scope: AdminTokenScope, _ handler: @escaping Handler) {
        guard needsToken else {
            routes.append(AdminRoute(method: method.rawValue, path: path, scope: nil))
            router.on(RouterPath(path), method: method, use: handler)
            return
        }
        routes.append(AdminRoute(method: method.rawValue, path: path, scope: scope))
        router.on(RouterPath(path), method: method) { request, context in
            try AdminScopeCheck.require(scope, of: context.token, for: request.method)
            return try await handler(request, context)
        }
    }

    /// Routes registered after this need a token (``AdminAuthMiddleware`` runs before them).
    func requireTokens() { needsToken = true }

    func get(_ path: String, _ handler: @escaping Handler) { on(.get, path, scope: .read, handler) }
    func put(_ path: String, scope: AdminTokenScope, _ handler: @escaping Handler) {
        on(.put, path, scope: scope, handler)
    }
    func post(_ path: String, scope: AdminTokenScope, _ handler: @escaping Handler) {
        on(.post, path, scope: scope, handler)
    }
    func delete(_ path: String, scope: AdminTokenScope, _ handler: @escaping Handler) {
        on(.delete, path, scope: scope, handler)
    }
}
