import AsyncHTTPClient
import Foundation
import NIOCore
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
            #expect(body?.error.contains("read scope") == true)
            try await fixture.expectRefusal(.forbidden, client: fixture.reader) {
                try await $0.send(.POST, "/v1/mesh/stop-all")
            }
            try await fixture.expectRefusal(.forbidden, client: fixture.reader) {
                try await $0.send(.POST, "/v1/admin-tokens", body: Data(json: #"{"name": "mine", "scope": "write"}"#))
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

    /// A write token may delete any token but the last write token: otherwise one call locks every admin out.
    @Test func theLastWriteTokenCannotBeDeleted() async throws {
        try await AdminAPIFixture.with { fixture in
            let tokens = try await fixture.reader.adminTokens()
            let admin = try #require(tokens.first { $0.name == "admin" })
            let viewer = try #require(tokens.first { $0.name == "viewer" })
            let body = try await fixture.expectRefusal(.conflict) {
                try await $0.send(.DELETE, "/v1/admin-tokens/\(admin.id)")
            }
            #expect(body?.error.contains("last write token") == true, "\(String(describing: body))")
            // A read token may go, and a second write token makes the first deletable.
            try await fixture.writer.deleteAdminToken(id: viewer.id)
            let second = try await fixture.writer.createAdminToken(name: "second", scope: .write)
            try await fixture.writer.deleteAdminToken(id: admin.id)
            let client = try AdminClient(
                baseURL: fixture.baseURL, token: second.token,
                trustedCAPEM: fixture.authority.trustBundlePEM)
            #expect(try await client.adminTokens().map(\.name) == ["second"])
            try await client.shutdown()
        }
    }
}
