import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing
import WeftAdminClient
import WeftCore

@testable import WeftControlPlane

/// Every way the admin API refuses a request, over real HTTPS against a real SQLite store: each refusal has the
/// right status, an error body naming the field, and leaves the revision and the audit log as they were.
@Suite("AdminAPI refusals")
struct AdminAPIRefusalTests {
    static let intentionJSON = #"{"source": "frontend", "destination": "backend", "action": "allow"}"#

    @Test func missingTokenIs401WithBearerChallenge() async throws {
        try await AdminAPIFixture.with { fixture in
            for (method, path) in [("GET", "/v1/status"), ("PUT", "/v1/intentions"), ("GET", "/v1/no-such-route")] {
                let response = try await fixture.anonymous.send(
                    .init(rawValue: method), path, body: Data(json: Self.intentionJSON))
                #expect(response.status == .unauthorized, "\(method) \(path)")
                #expect(response.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
                #expect(response.error?.error.contains("--token") == true, "\(response.text)")
            }
            try await fixture.expectRefusal(.unauthorized, client: fixture.anonymous) {
                try await $0.send(.PUT, "/v1/intentions", body: Data(json: Self.intentionJSON))
            }
        }
    }

    @Test func wrongTokenIs401() async throws {
        try await AdminAPIFixture.with { fixture in
            let forged = fixture.writeToken.dropLast(4) + "0000"
            for token in [String(forged), "weftadmin.nosuchid.secret", "not-a-token", ""] {
                let response = try await fixture.anonymous.send(
                    .PUT, "/v1/intentions", body: Data(json: Self.intentionJSON),
                    headers: [("Authorization", "Bearer \(token)")]
                )
                #expect(response.status == .unauthorized, "token '\(token)': \(response.text)")
                #expect(response.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            }
            let basic = try await fixture.anonymous.send(.GET, "/v1/status", headers: [("Authorization", "Basic YTpi")])
            #expect(basic.status == .unauthorized)
            #expect(try await fixture.snapshot().audit.count == 2, "only the fixture's two token creations")
        }
    }

    @Test func readTokenCannotWrite() async throws {
        try await AdminAPIFixture.with { fixture in
            let status = try await fixture.reader.status()
            #expect(status.counts.adminTokens == 2)
            let body = try await fixture.expectRefusal(.forbidden, client: fixture.reader) {
                try await $0.send(.PUT, "/v1/intentions", body: Data(json: Self.intentionJSON))
            }
            #expect(body?.error.contains("has read scope") == true)
            try await fixture.expectRefusal(.forbidden, client: fixture.reader) {
                try await $0.send(.POST, "/v1/mesh/stop-all")
            }
            try await fixture.expectRefusal(.forbidden, client: fixture.reader) {
                try await $0.send(.POST, "/v1/admin-tokens", body: Data(json: #"{"name": "mine", "scope": "admin"}"#))
            }
        }
    }

    @Test func malformedJSONIs400() async throws {
        try await AdminAPIFixture.with { fixture in
            for text in [#"{"source": "frontend", "#, "not json", "[1, 2]", "\"text\"", ""] {
                let body = try await fixture.expectRefusal(.badRequest) {
                    try await $0.send(.PUT, "/v1/intentions", body: Data(json: text))
                }
                #expect(body?.error.isEmpty == false, "\(text)")
            }
        }
    }

    @Test func unknownFieldsAre400NamingTheField() async throws {
        try await AdminAPIFixture.with { fixture in
            try await fixture.expectRefusal(.badRequest, field: "acton") {
                try await $0.send(
                    .PUT, "/v1/intentions", body: Data(json: #"{"source": "a", "destination": "b", "acton": "allow"}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "permissions[1].method") {
                try await $0.send(
                    .PUT, "/v1/intentions",
                    body: Data(
                        json: """
                            {"source": "a", "destination": "b", "action": "allow",
                             "permissions": [{"action": "allow", "methods": ["GET"]}, {"action": "deny", "method": "POST"}]}
                            """))
            }
            try await fixture.expectRefusal(.badRequest, field: "permissions[0].headers[0].exactly") {
                try await $0.send(
                    .PUT, "/v1/intentions",
                    body: Data(
                        json: """
                            {"source": "a", "destination": "b", "action": "allow",
                             "permissions": [{"action": "allow", "headers": [{"name": "x-user", "exactly": "me"}]}]}
                            """))
            }
            let body = try await fixture.expectRefusal(.badRequest, field: "prots") {
                try await $0.send(.PUT, "/v1/services/default/billing", body: Data(json: #"{"prots": [80]}"#))
            }
            #expect(body?.error.contains("ports") == true, "the message lists the allowed fields")
            try await fixture.expectRefusal(.badRequest, field: "telemetry.metrics") {
                try await $0.send(.PUT, "/v1/mesh", body: Data(json: #"{"telemetry": {"metrics": "statsd"}}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "ttl") {
                try await $0.send(.POST, "/v1/node-tokens", body: Data(json: #"{"node": "host-a", "ttl": 60}"#))
            }
        }
    }

    @Test func wrongTypesAndValuesAre400NamingTheField() async throws {
        try await AdminAPIFixture.with { fixture in
            try await fixture.expectRefusal(.badRequest, field: "action") {
                try await $0.send(
                    .PUT, "/v1/intentions",
                    body: Data(json: #"{"source": "a", "destination": "b", "action": "permit"}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "action") {
                try await $0.send(.PUT, "/v1/intentions", body: Data(json: #"{"source": "a", "destination": "b"}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "description") {
                try await $0.send(
                    .PUT, "/v1/intentions",
                    body: Data(json: #"{"source": "a", "destination": "b", "action": "allow", "description": 5}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "telemetry.push_interval") {
                try await $0.send(.PUT, "/v1/mesh", body: Data(json: #"{"telemetry": {"push_interval": 0}}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "push_interval") {
                try await $0.send(.PUT, "/v1/telemetry", body: Data(json: #"{"push_interval": 99999}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "mode") {
                try await $0.send(.PUT, "/v1/mesh/mode", body: Data(json: #"{"mode": "lenient"}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "ttl_seconds") {
                try await $0.send(.POST, "/v1/node-tokens", body: Data(json: #"{"node": "host-a", "ttl_seconds": 0}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "scope") {
                try await $0.send(.POST, "/v1/admin-tokens", body: Data(json: #"{"name": "ci", "scope": "root"}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "limit") {
                try await $0.send(.GET, "/v1/audit", query: [("limit", "0")])
            }
            try await fixture.expectRefusal(.badRequest, field: "If-Match") {
                try await $0.send(
                    .PUT, "/v1/intentions", body: Data(json: Self.intentionJSON), ifMatch: nil,
                    headers: [("If-Match", "yesterday")])
            }
        }
    }

    @Test func oversizeBodyIs413() async throws {
        try await AdminAPIFixture.with { fixture in
            // Valid JSON, just too big: a description of 2 MiB.
            let big =
                #"{"source": "a", "destination": "b", "action": "allow", "description": ""#
                + String(repeating: "x", count: 2 << 20) + "\"}"
            let body = try await fixture.expectRefusal(.payloadTooLarge) {
                try await $0.send(.PUT, "/v1/intentions", body: Data(json: big))
            }
            #expect(body?.error.contains("1 MiB") == true)

            let http = HTTPClient(
                eventLoopGroupProvider: .singleton,
                configuration: .init(
                    tlsConfiguration: {
                        var tls = TLSConfiguration.makeClientConfiguration()
                        tls.trustRoots = .certificates(
                            try! NIOSSLCertificate.fromPEMBytes(Array(fixture.authority.trustBundlePEM.utf8)))
                        return tls
                    }())
            )
            func upload(length: HTTPClientRequest.Body.Length, chunks: Int, finish: Bool) async throws -> (
                Int, AsyncStream<ByteBuffer>.Continuation
            ) {
                var request = HTTPClientRequest(url: fixture.baseURL + "/v1/intentions")
                request.method = .PUT
                request.headers.add(name: "Authorization", value: "Bearer \(fixture.writeToken)")
                let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
                for _ in 0..<chunks { continuation.yield(ByteBuffer(repeating: UInt8(ascii: " "), count: 64 << 10)) }
                if finish { continuation.finish() }
                request.body = .stream(stream, length: length)
                let response = try await http.execute(request, timeout: .seconds(10))
                return (Int(response.status.code), continuation)
            }
            let before = try await fixture.snapshot()

            // A declared length over the limit is refused at once: the client has sent one chunk of 10 MiB and
            // holds the rest back, and the answer arrives anyway.
            let (declared, pending) = try await upload(length: .known(Int64(10 << 20)), chunks: 1, finish: false)
            #expect(declared == 413)
            pending.finish()

            // Without a Content-Length (chunked), refused once 1 MiB has arrived.
            let (chunked, _) = try await upload(length: .unknown, chunks: 40, finish: true)
            #expect(chunked == 413)
            try await http.shutdown()
            #expect(try await fixture.snapshot() == before)

            // The server still serves the next request.
            #expect(try await fixture.writer.status().revision == before.revision)
        }
    }

    @Test func staleIfMatchIs409WithTheCurrentRevision() async throws {
        try await AdminAPIFixture.with { fixture in
            let intention = Intention(
                source: .service(ServiceName(name: "frontend")), destination: .service(ServiceName(name: "backend")),
                action: .allow)
            let first = try await fixture.writer.putIntention(intention, ifMatch: 0)
            var denied = intention
            denied.action = .deny
            let second = try await fixture.writer.putIntention(denied, ifMatch: first.revision)
            #expect(second.revision > first.revision)

            let body = try await fixture.expectRefusal(.conflict) {
                try await $0.send(.PUT, "/v1/intentions", body: Data(json: Self.intentionJSON), ifMatch: first.revision)
            }
            #expect(body?.currentRevision == second.revision)
            #expect(body?.error.contains("read it again") == true)

            // If-Match 0: "must not exist yet", and it does.
            let exists = try await fixture.expectRefusal(.conflict) {
                try await $0.send(.PUT, "/v1/intentions", body: Data(json: Self.intentionJSON), ifMatch: 0)
            }
            #expect(exists?.currentRevision == second.revision)

            // Stale deletes too; the ETag of the 409 is the current revision.
            let response = try await fixture.writer.send(
                .DELETE, "/v1/intentions/frontend/backend", ifMatch: first.revision)
            #expect(response.status == .conflict)
            #expect(response.etag == second.revision)
            #expect(
                try await fixture.writer.intention(source: intention.source, destination: intention.destination).value
                    .action == .deny)

            // Through the typed client, the error carries the same facts.
            await #expect(
                throws: AdminClientError.server(
                    status: .conflict, message: body?.error ?? "", field: nil, currentRevision: second.revision)
            ) {
                try await fixture.writer.putIntention(intention, ifMatch: first.revision)
            }
        }
    }

    @Test func namesThatAreNotDNSLabelsAre400NamingTheField() async throws {
        try await AdminAPIFixture.with { fixture in
            try await fixture.expectRefusal(.badRequest, field: "name") {
                try await $0.send(.PUT, "/v1/services/default/Billing_API", body: Data(json: #"{"ports": [80]}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "namespace") {
                try await $0.send(.PUT, "/v1/services/-ops/billing", body: Data(json: #"{"ports": [80]}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "name") {
                try await $0.send(
                    .PUT, "/v1/services/default/billing", body: Data(json: #"{"name": "other", "ports": [80]}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "source") {
                try await $0.send(
                    .PUT, "/v1/intentions",
                    body: Data(json: #"{"source": "Front End", "destination": "backend", "action": "allow"}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "destination") {
                try await $0.send(.GET, "/v1/intentions/frontend/back.end")
            }
            try await fixture.expectRefusal(.badRequest, field: "node") {
                try await $0.send(.POST, "/v1/node-tokens", body: Data(json: #"{"node": "host_a", "ttl_seconds": 60}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "name") {
                try await $0.send(.POST, "/v1/admin-tokens", body: Data(json: #"{"name": "CI bot", "scope": "read"}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "destination") {
                try await $0.send(.GET, "/v1/authorize", query: [("source", "frontend"), ("destination", "a/b/c")])
            }
        }
    }

    @Test func badPortsAre400NamingThePort() async throws {
        try await AdminAPIFixture.with { fixture in
            for ports in ["[70000]", "[0]", "[\"80\"]", "[80, -1]", "[8.5]"] {
                let field = ports == "[80, -1]" ? "ports[1]" : "ports[0]"
                try await fixture.expectRefusal(.badRequest, field: field) {
                    try await $0.send(.PUT, "/v1/services/default/billing", body: Data(json: #"{"ports": \#(ports)}"#))
                }
            }
            try await fixture.expectRefusal(.badRequest, field: "ports") {
                try await $0.send(.PUT, "/v1/services/default/billing", body: Data(json: #"{"ports": [80, 80]}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "ports") {
                try await $0.send(.PUT, "/v1/services/default/billing", body: Data(json: #"{"ports": []}"#))
            }
        }
    }

    @Test func badAddressesAre400NamingTheField() async throws {
        try await AdminAPIFixture.with { fixture in
            for address in ["198.18.0.10", "198.18.0.300:443", "db.example:5432", "198.18.0.10:99999"] {
                try await fixture.expectRefusal(.badRequest, field: "external_addresses[0]") {
                    try await $0.send(
                        .PUT, "/v1/services/default/legacy-db",
                        body: Data(json: #"{"origin": "external", "external_addresses": ["\#(address)"]}"#)
                    )
                }
            }
            try await fixture.expectRefusal(.badRequest, field: "external_addresses") {
                try await $0.send(.PUT, "/v1/services/default/legacy-db", body: Data(json: #"{"origin": "external"}"#))
            }
            try await fixture.expectRefusal(.badRequest, field: "origin") {
                try await $0.send(
                    .PUT, "/v1/services/default/legacy-db",
                    body: Data(json: #"{"origin": "discovered", "ports": [80]}"#))
            }
        }
    }

    @Test func unknownRoutesAndObjectsAre404WithAnErrorBody() async throws {
        try await AdminAPIFixture.with { fixture in
            try await fixture.expectRefusal(.notFound) { try await $0.send(.GET, "/v1/nothing-here") }
            try await fixture.expectRefusal(.notFound) { try await $0.send(.GET, "/v1/services/default/nobody") }
            try await fixture.expectRefusal(.notFound) { try await $0.send(.DELETE, "/v1/intentions/a/b") }
            try await fixture.expectRefusal(.notFound) { try await $0.send(.DELETE, "/v1/node-tokens/abc") }
            try await fixture.expectRefusal(.notFound) {
                try await $0.send(.PUT, "/v1/nodes/host-z/egress", body: Data(json: #"{"egress": "refuse"}"#))
            }
        }
    }

    /// An admin token may delete any token but the last admin token: otherwise one call locks every admin out.
    @Test func theLastAdminTokenCannotBeDeleted() async throws {
        try await AdminAPIFixture.with { fixture in
            let tokens = try await fixture.writer.adminTokens()
            let admin = try #require(tokens.first { $0.name == "admin" })
            let viewer = try #require(tokens.first { $0.name == "viewer" })
            let body = try await fixture.expectRefusal(.conflict) {
                try await $0.send(.DELETE, "/v1/admin-tokens/\(admin.id)")
            }
            #expect(body?.error.contains("last token with admin scope") == true, "\(String(describing: body))")
            // A read token may go, and a second admin token makes the first deletable.
            try await fixture.writer.deleteAdminToken(id: viewer.id)
            let second = try await fixture.writer.createAdminToken(name: "second", scope: .admin)
            try await fixture.writer.deleteAdminToken(id: admin.id)
            let client = try AdminClient(
                baseURL: fixture.baseURL, token: second.token,
                trustedCAPEM: fixture.authority.trustBundlePEM)
            #expect(try await client.adminTokens().map(\.name) == ["second"])
            try await client.shutdown()
        }
    }

    /// Each scope changes only what it names; admin-token listing, certificates and mesh-wide settings need admin.
    @Test func eachScopeMayChangeOnlyWhatItNames() async throws {
        try await AdminAPIFixture.with { fixture in
            func client(_ scope: AdminTokenScope) async throws -> AdminClient {
                let token = try await fixture.writer.createAdminToken(name: "as-\(scope.rawValue)", scope: scope)
                return try AdminClient(
                    baseURL: fixture.baseURL, token: token.token, trustedCAPEM: fixture.authority.trustBundlePEM)
            }
            let policy = try await client(.intentions)
            let registry = try await client(.nodes)
            defer {
                Task { try? await policy.shutdown() }
                Task { try? await registry.shutdown() }
            }
            let service = Data(json: #"{"ports": [8080]}"#)
            let joinToken = Data(json: #"{"node": "host-q", "ttl_seconds": 60}"#)
            let adminToken = Data(json: #"{"name": "mine", "scope": "admin"}"#)

            #expect(try await policy.send(.PUT, "/v1/intentions", body: Data(json: Self.intentionJSON)).status == .ok)
            #expect(try await policy.send(.POST, "/v1/mesh/stop-all").status == .ok)
            #expect(try await policy.send(.POST, "/v1/mesh/resume").status == .ok)
            for (method, path, body) in [
                (HTTPMethod.PUT, "/v1/services/default/billing", service), (.POST, "/v1/node-tokens", joinToken),
                (.POST, "/v1/admin-tokens", adminToken), (.GET, "/v1/admin-tokens", nil),
                (.PUT, "/v1/mesh", Data(json: "{}")), (.POST, "/v1/certificates/01ab/revoke", nil),
            ] {
                let body = try await fixture.expectRefusal(.forbidden, client: policy) {
                    try await $0.send(method, path, body: body)
                }
                #expect(body?.error.contains("has intentions scope") == true, "\(method) \(path)")
            }

            #expect(try await registry.send(.PUT, "/v1/services/default/billing", body: service).status == .ok)
            #expect(try await registry.send(.POST, "/v1/node-tokens", body: joinToken).status == .created)
            for (method, path, body) in [
                (HTTPMethod.PUT, "/v1/intentions", Data(json: Self.intentionJSON)), (.POST, "/v1/mesh/stop-all", nil),
                (.POST, "/v1/admin-tokens", adminToken), (.PUT, "/v1/telemetry", Data(json: "{}")),
            ] {
                try await fixture.expectRefusal(.forbidden, client: registry) {
                    try await $0.send(method, path, body: body)
                }
            }
            try await fixture.expectRefusal(.forbidden, client: fixture.reader) {
                try await $0.send(.GET, "/v1/admin-tokens")
            }
        }
    }

    /// Tokens made as `write` by earlier versions, or asked for by that name, are admin tokens.
    @Test func theLegacyWriteScopeIsAdmin() async throws {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let record = try decoder.decode(
            AdminTokenRecord.self,
            from: Data(
                json:
                    #"{"id": "a1", "name": "old", "scope": "write", "secret_sha256": "00", "created_at": "2026-01-01T00:00:00Z"}"#
            ))
        #expect(record.scope == .admin)
        try await AdminAPIFixture.with { fixture in
            let response = try await fixture.writer.send(
                .POST, "/v1/admin-tokens", body: Data(json: #"{"name": "legacy", "scope": "write"}"#))
            #expect(response.status == .created)
            let created = try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any]
            #expect(created?["scope"] as? String == "admin", "\(response.text)")
        }
    }

    /// A method a path is not served with is 405 with the methods it takes; an unknown path stays 404.
    @Test func anUnservedMethodIs405WithAllow() async throws {
        try await AdminAPIFixture.with { fixture in
            for (method, path, allowed) in [
                (HTTPMethod.DELETE, "/v1/status", "GET, HEAD"), (.PATCH, "/v1/intentions", "GET, HEAD, PUT"),
                (.POST, "/v1/nodes/host-a", "DELETE, GET, HEAD"), (.GET, "/v1/mesh/stop-all", "POST"),
            ] {
                let response = try await fixture.writer.send(method, path)
                #expect(response.status == .methodNotAllowed, "\(method) \(path): \(response.text)")
                #expect(response.header("Allow") == allowed, "\(method) \(path)")
            }
            try await fixture.expectRefusal(.notFound) { try await $0.send(.GET, "/v1/nothing-here") }
        }
    }
}
