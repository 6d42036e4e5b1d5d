import Foundation
import NIOHTTP1
import WeftCore

// One typed method per admin API route (see Sources/WeftAPI/openapi.yaml); the bodies are WeftCore's
// (Sources/WeftCore/AdminAPI), the same types weftd encodes.

private struct NodeList: Decodable { var nodes: [AdminNode] }
private struct ServiceList: Decodable { var services: [Revisioned<ServiceRecord>] }
private struct IntentionList: Decodable { var intentions: [Revisioned<Intention>] }
private struct JoinTokenList: Decodable { var tokens: [JoinTokenInfo] }
private struct AdminTokenList: Decodable { var tokens: [AdminToken] }

extension AdminClient {
    // MARK: Status

    public func status() async throws -> AdminStatus {
        try await call(AdminStatus.self, .GET, "/v1/status").value
    }

    // MARK: Nodes

    public func nodes() async throws -> [AdminNode] {
        try await call(NodeList.self, .GET, "/v1/nodes").value.nodes
    }

    public func node(_ name: String) async throws -> AdminNode {
        try await call(AdminNode.self, .GET, "/v1/nodes/\(Self.segment(name))").value
    }

    /// Sets a node's egress policy; nil follows the mesh's.
    @discardableResult
    public func setNodeEgress(_ name: String, egress: EgressPolicy?, ifMatch: Int64? = nil) async throws -> Revisioned<
        NodeRecord
    > {
        let (value, revision) = try await call(
            NodeRecord.self, .PUT, "/v1/nodes/\(Self.segment(name))/egress", body: EgressRequest(egress: egress),
            ifMatch: ifMatch
        )
        return Revisioned(value: value, revision: revision ?? 0)
    }

    public func setNodeAddresses(_ name: String, addresses: [IPAddress], ifMatch: Int64? = nil) async throws
        -> Revisioned<NodeRecord>
    {
        let (value, revision) = try await call(
            NodeRecord.self, .PUT, "/v1/nodes/\(Self.segment(name))/addresses",
            body: NodeAddressesRequest(addresses: addresses), ifMatch: ifMatch
        )
        return Revisioned(value: value, revision: revision ?? 0)
    }

    public func deleteNode(_ name: String, ifMatch: Int64? = nil) async throws {
        try await callNoContent(.DELETE, "/v1/nodes/\(Self.segment(name))", ifMatch: ifMatch)
    }

    // MARK: Join tokens

    public func createJoinToken(node: String, ttlSeconds: Int, addresses: [IPAddress]? = nil) async throws
        -> CreatedJoinToken
    {
        let body = JoinTokenRequest(node: node, ttlSeconds: ttlSeconds, addresses: addresses)
        return try await call(CreatedJoinToken.self, .POST, "/v1/node-tokens", body: body).value
    }

    public func joinTokens() async throws -> [JoinTokenInfo] {
        try await call(JoinTokenList.self, .GET, "/v1/node-tokens").value.tokens
    }

    public func revokeJoinToken(id: String) async throws {
        try await callNoContent(.DELETE, "/v1/node-tokens/\(Self.segment(id))")
    }

    // MARK: Services

    public func services() async throws -> [Revisioned<ServiceRecord>] {
        try await call(ServiceList.self, .GET, "/v1/services").value.services
    }

    public func service(_ name: ServiceName) async throws -> Revisioned<ServiceRecord> {
        let (value, revision) = try await call(ServiceRecord.self, .GET, Self.servicePath(name))
        return Revisioned(value: value, revision: revision ?? 0)
    }

    /// Creates or replaces an admin-defined or external service; the registry assigns its VIP.
    @discardableResult
    public func putService(_ service: ServiceRecord, ifMatch: Int64? = nil) async throws -> Revisioned<ServiceRecord> {
        let (value, revision) = try await call(
            ServiceRecord.self, .PUT, Self.servicePath(service.name), body: service, ifMatch: ifMatch
        )
        return Revisioned(value: value, revision: revision ?? 0)
    }

    public func deleteService(_ name: ServiceName, ifMatch: Int64? = nil) async throws {
        try await callNoContent(.DELETE, Self.servicePath(name), ifMatch: ifMatch)
    }

    /// Lets `node` serve `service` and call as it.
    public func allowNode(_ node: String, for service: ServiceName) async throws -> Revisioned<ServiceRecord> {
        let (value, revision) = try await call(
            ServiceRecord.self, .PUT, Self.servicePath(service) + "/nodes/\(Self.segment(node))")
        return Revisioned(value: value, revision: revision ?? 0)
    }

    /// Takes `node` out of `service`'s placement; its endpoints of the service are withdrawn.
    public func disallowNode(_ node: String, for service: ServiceName) async throws -> Revisioned<ServiceRecord> {
        let (value, revision) = try await call(
            ServiceRecord.self, .DELETE, Self.servicePath(service) + "/nodes/\(Self.segment(node))")
        return Revisioned(value: value, revision: revision ?? 0)
    }

    static func servicePath(_ name: ServiceName) -> String {
        "/v1/services/\(segment(name.namespace))/\(segment(name.name))"
    }

    // MARK: Intentions

    public func intentions() async throws -> [Revisioned<Intention>] {
        try await call(IntentionList.self, .GET, "/v1/intentions").value.intentions
    }

    /// Creates or replaces the intention for its source and destination.
    @discardableResult
    public func putIntention(_ intention: Intention, ifMatch: Int64? = nil) async throws -> Revisioned<Intention> {
        let (value, revision) = try await call(
            Intention.self, .PUT, "/v1/intentions", body: intention, ifMatch: ifMatch)
        return Revisioned(value: value, revision: revision ?? 0)
    }

    public func intention(source: ServiceSelector, destination: ServiceSelector) async throws -> Revisioned<Intention> {
        let (value, revision) = try await call(Intention.self, .GET, Self.intentionPath(source, destination))
        return Revisioned(value: value, revision: revision ?? 0)
    }

    public func deleteIntention(source: ServiceSelector, destination: ServiceSelector, ifMatch: Int64? = nil)
        async throws
    {
        try await callNoContent(.DELETE, Self.intentionPath(source, destination), ifMatch: ifMatch)
    }

    static func intentionPath(_ source: ServiceSelector, _ destination: ServiceSelector) -> String {
        "/v1/intentions/\(selectorSegment(source))/\(selectorSegment(destination))"
    }

    /// How the mesh judges a call from `source` (nil: a caller without identity) to `destination` now; with
    /// `method`, an HTTP request to `path`.
    public func authorize(
        source: ServiceName?, destination: ServiceName, method: String? = nil, path: String? = nil
    ) async throws -> AuthorizationResult {
        var query: [(String, String)] = [("destination", destination.description)]
        if let source { query.append(("source", source.description)) }
        if let method { query.append(("method", method)) }
        if let path { query.append(("path", path)) }
        return try await call(AuthorizationResult.self, .GET, "/v1/authorize", query: query).value
    }

    // MARK: Mesh settings

    public func mesh() async throws -> Revisioned<MeshSettings> {
        try await settings(.GET, "/v1/mesh")
    }

    @discardableResult
    public func putMesh(_ settings: MeshSettings, ifMatch: Int64? = nil) async throws -> Revisioned<MeshSettings> {
        let (value, revision) = try await call(MeshSettings.self, .PUT, "/v1/mesh", body: settings, ifMatch: ifMatch)
        return Revisioned(value: value, revision: revision ?? 0)
    }

    /// Denies all traffic in the mesh, whatever the intentions say, until ``resume()``.
    @discardableResult
    public func stopAll() async throws -> Revisioned<MeshSettings> {
        try await settings(.POST, "/v1/mesh/stop-all")
    }

    @discardableResult
    public func resume() async throws -> Revisioned<MeshSettings> {
        try await settings(.POST, "/v1/mesh/resume")
    }

    @discardableResult
    public func setDefaultAction(_ action: IntentionAction) async throws -> Revisioned<MeshSettings> {
        let (value, revision) = try await call(
            MeshSettings.self, .PUT, "/v1/mesh/default", body: DefaultActionRequest(action: action))
        return Revisioned(value: value, revision: revision ?? 0)
    }

    @discardableResult
    public func setMeshMode(_ mode: MeshMode) async throws -> Revisioned<MeshSettings> {
        let (value, revision) = try await call(
            MeshSettings.self, .PUT, "/v1/mesh/mode", body: MeshModeRequest(mode: mode))
        return Revisioned(value: value, revision: revision ?? 0)
    }

    private func settings(_ method: HTTPMethod, _ path: String) async throws -> Revisioned<MeshSettings> {
        let (value, revision) = try await call(MeshSettings.self, method, path)
        return Revisioned(value: value, revision: revision ?? 0)
    }

    // MARK: Telemetry

    public func telemetry() async throws -> Revisioned<TelemetrySettings> {
        let (value, revision) = try await call(TelemetrySettings.self, .GET, "/v1/telemetry")
        return Revisioned(value: value, revision: revision ?? 0)
    }

    @discardableResult
    public func putTelemetry(_ telemetry: TelemetrySettings, ifMatch: Int64? = nil) async throws -> Revisioned<
        TelemetrySettings
    > {
        let (value, revision) = try await call(
            TelemetrySettings.self, .PUT, "/v1/telemetry", body: telemetry, ifMatch: ifMatch)
        return Revisioned(value: value, revision: revision ?? 0)
    }

    // MARK: Certificates

    public func certificates() async throws -> CertificatesInfo {
        try await call(CertificatesInfo.self, .GET, "/v1/certificates").value
    }

    /// Revokes the certificate with this serial number (hex).
    @discardableResult
    public func revokeCertificate(serial: String) async throws -> RevokedCertificate {
        try await call(RevokedCertificate.self, .POST, "/v1/certificates/\(Self.segment(serial))/revoke").value
    }

    /// The mesh's root certificates, PEM. Needs no token.
    public func trustBundle() async throws -> String {
        try check(try await send(.GET, "/v1/trust-bundle", authenticated: false)).text
    }

    // MARK: Audit

    public func audit(after: Int64 = 0, limit: Int = 100) async throws -> AuditPage {
        try await call(AuditPage.self, .GET, "/v1/audit", query: [("after", "\(after)"), ("limit", "\(limit)")]).value
    }

    // MARK: Admin tokens

    /// Creates an admin token; its text is in the answer's `token`, and nowhere else, ever.
    public func createAdminToken(name: String, scope: AdminTokenScope) async throws -> AdminToken {
        try await call(AdminToken.self, .POST, "/v1/admin-tokens", body: AdminTokenRequest(name: name, scope: scope))
            .value
    }

    public func adminTokens() async throws -> [AdminToken] {
        try await call(AdminTokenList.self, .GET, "/v1/admin-tokens").value.tokens
    }

    public func deleteAdminToken(id: String) async throws {
        try await callNoContent(.DELETE, "/v1/admin-tokens/\(Self.segment(id))")
    }

    // MARK: OpenAPI

    public func openAPIDocument() async throws -> String {
        try check(try await send(.GET, "/v1/openapi.yaml", authenticated: false)).text
    }
}
