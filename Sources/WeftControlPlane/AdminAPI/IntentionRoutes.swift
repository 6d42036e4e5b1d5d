import Foundation
import Hummingbird
import WeftCore

extension AdminAPI {
    /// Intentions (who may call whom): list, upsert by source and destination, show, delete, and a check that
    /// evaluates the current intentions and mesh settings for one caller and callee.
    ///
    /// In paths an intention side is `*`, `name` (namespace `default`) or `namespace~name`.
    func addIntentionRoutes(to routes: AdminRouteTable) {
        routes.get("/v1/intentions") { _, _ in
            let revision = try await registry.revision()
            let intentions = try await registry.intentions()
            return JSONResponse.make(["intentions": intentions], etag: revision)
        }

        routes.put("/v1/intentions", scope: .intentions) { request, context in
            let ifMatch = try ETag.ifMatch(request)
            let intention = try await JSONBody.decode(Intention.self, from: request, context: context)
            let stored = try await registry.putIntention(intention, ifMatch: ifMatch, actor: context.actor)
            return JSONResponse.make(stored.value, etag: stored.revision)
        }

        routes.get("/v1/intentions/{source}/{destination}") { _, context in
            let key = try intentionKey(context)
            guard let intention = try await registry.intention(key: key) else {
                throw RegistryError.notFound(kind: "intention", key: key)
            }
            return JSONResponse.make(intention.value, etag: intention.revision)
        }

        routes.delete("/v1/intentions/{source}/{destination}", scope: .intentions) { request, context in
            let key = try intentionKey(context)
            try await registry.deleteIntention(key: key, ifMatch: try ETag.ifMatch(request), actor: context.actor)
            return JSONResponse.noContent()
        }

        routes.get("/v1/authorize") { request, _ in
            let source: ServiceName?
            if let text = Input.query("source", request), !text.isEmpty {
                source = try Self.queryService(text, field: "source")
            } else {
                source = nil
            }
            guard let destinationText = Input.query("destination", request) else {
                throw AdminError.badRequest("name the callee: ?destination=<service>", field: "destination")
            }
            let destination = try Self.queryService(destinationText, field: "destination")
            var l7: L7Request?
            if let method = Input.query("method", request) {
                l7 = L7Request(method: method.uppercased(), path: Input.query("path", request) ?? "/")
            }
            let settings = try await registry.settings().value
            let policy = AuthorizationPolicy(
                intentions: try await registry.intentions().map(\.value), defaultAction: settings.defaultAction,
                stopAll: settings.stopAll
            )
            let decision = policy.evaluate(source: source, destination: destination, request: l7)
            let view = AuthorizationResult(
                source: source?.description ?? "", destination: destination.description, allowed: decision.allowed,
                reason: decision.reason, intention: decision.intention
            )
            return JSONResponse.make(view, etag: try await registry.revision())
        }
    }

    private func intentionKey(_ context: AdminRequestContext) throws -> String {
        Intention(
            source: try Input.selector("source", context), destination: try Input.selector("destination", context),
            action: .allow
        ).key
    }

    private static func queryService(_ text: String, field: String) throws -> ServiceName {
        do { return try ServiceName(parsing: text.replacingOccurrences(of: "~", with: "/")) } catch {
            throw AdminError.badRequest(error.description, field: field)
        }
    }
}
