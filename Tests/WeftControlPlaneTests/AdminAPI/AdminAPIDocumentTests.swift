import Foundation
import Testing
import WeftCore
import WeftIdentity

@testable import WeftControlPlane

/// The OpenAPI document is the API's one description: every route the router serves is in it (and nothing else),
/// the token scope each needs (`x-weft-scope`, or `security: []` for none) matches, and it is valid OpenAPI.
@Suite("AdminAPI document")
struct AdminAPIDocumentTests {
    static let documentPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources/WeftAPI/openapi.yaml")
        .path

    /// `METHOD /path` → the scope it needs (`none` for `security: []`, `missing` when the document does not say),
    /// from the document's `paths:` section. A small reader for the layout the document uses (two-space indents),
    /// not a YAML parser.
    static func documentedOperations() throws -> [String: String] {
        let lines = try String(contentsOfFile: documentPath, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        var operations: [String: String] = [:]
        var inPaths = false
        var path: String?
        var operation: String?
        for line in lines {
            if line == "paths:" {
                inPaths = true
                continue
            }
            if inPaths, !line.isEmpty, !line.hasPrefix(" ") { break }
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                path = String(line.dropFirst(2).dropLast())
                operation = nil
            } else if let path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let method = line.trimmingCharacters(in: .whitespaces).dropLast().uppercased()
                if ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"].contains(method) {
                    operation = "\(method) \(path)"
                    operations[operation!] = "missing"
                } else {
                    operation = nil
                }
            } else if let operation, line.trimmingCharacters(in: .whitespaces) == "security: []" {
                operations[operation] = "none"
            } else if let operation, line.hasPrefix("      x-weft-scope: ") {
                operations[operation] = String(line.dropFirst("      x-weft-scope: ".count))
            }
        }
        return operations
    }

    @Test func everyRouteIsDocumentedAndNothingElse() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "weft-admin-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("weft.sqlite").path)
        let registry = Registry(
            store: store, authority: try CertificateAuthority.generateRoot(trustDomain: "weft.local"),
            configuration: .init())
        let routes = AdminAPI(registry: registry).routes
        await store.close()

        let documented = try Self.documentedOperations()
        let served = Dictionary(uniqueKeysWithValues: routes.map { ($0.description, $0.scope?.rawValue ?? "none") })
        #expect(served.count == routes.count, "a route is registered twice")
        #expect(served.count > 30)
        for route in served.keys.sorted() where documented[route] == nil {
            Issue.record("\(route) is served but missing from Sources/WeftAPI/openapi.yaml")
        }
        for operation in documented.keys.sorted() where served[operation] == nil {
            Issue.record("\(operation) is in Sources/WeftAPI/openapi.yaml but no route serves it")
        }
        for (route, scope) in served where documented[route] != nil && documented[route] != scope {
            Issue.record(
                "\(route): the router needs scope \(scope); the document says \(documented[route]!) (x-weft-scope, or security: [] for none)"
            )
        }
    }

    @Test func theDocumentIsValidOpenAPI() throws {
        let script = """
            import sys
            try:
                from openapi_spec_validator import validate
                from openapi_spec_validator.readers import read_from_filename
            except ImportError:
                print("openapi-spec-validator is not installed: run Scripts/bootstrap (pip install openapi-spec-validator)")
                sys.exit(3)
            spec, _ = read_from_filename(sys.argv[1])
            validate(spec)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, Self.documentPath]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
    }
}

/// The unknown-field check, alone.
@Suite("AdminAPI JSON bodies")
struct JSONBodyTests {
    func violation(_ shape: JSONShape, _ json: String) throws -> JSONShape.Violation? {
        shape.violation(in: try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed]))
    }

    @Test func unknownKeysAreFoundAtAnyDepth() throws {
        let shape = JSONShape.object(["a": .value, "list": .array(.object(["b": .value])), "labels": .map(.value)])
        #expect(try violation(shape, #"{"a": 1, "list": [{"b": 2}], "labels": {"anything": "goes"}}"#) == nil)
        #expect(try violation(shape, #"{"a": 1, "c": 2}"#)?.field == "c")
        #expect(try violation(shape, #"{"list": [{"b": 1}, {"b": 2, "x": 3}]}"#)?.field == "list[1].x")
        #expect(try violation(shape, #"{"list": {"b": 1}}"#)?.field == "list")
        #expect(try violation(shape, #"{"a": null, "list": null}"#) == nil, "null is for the decoder to judge")
        #expect(try violation(shape, #"{"c": 1}"#)?.message.contains("a, labels, list") == true)
    }

    @Test func choicesAndPortsAreCheckedBeforeDecoding() throws {
        let shape = JSONShape.object(["action": .oneOf(["allow", "deny"]), "ports": .array(.port)])
        #expect(try violation(shape, #"{"action": "deny", "ports": [1, 65535]}"#) == nil)
        #expect(try violation(shape, #"{"action": "maybe"}"#)?.message == "'maybe' is not one of: allow, deny")
        for ports in ["[0]", "[65536]", "[-5]", "[1.5]", "[\"22\"]"] {
            #expect(try violation(shape, #"{"ports": \#(ports)}"#)?.field == "ports[0]", "\(ports)")
        }
    }

    /// Every key the model types encode is one their shape accepts, and what they encode decodes back: a field added
    /// to a model without its shape fails here, not in front of a user.
    @Test func shapesCoverEveryFieldTheModelsEncode() throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        func roundTrip<T: AdminRequestBody & Encodable & Equatable>(_ value: T) throws {
            let data = try encoder.encode(value)
            let json = try JSONSerialization.jsonObject(with: data)
            #expect(T.shape.violation(in: json) == nil, "\(T.self): \(String(decoding: data, as: UTF8.self))")
            #expect(try JSONBody.decode(T.self, from: data) == value)
        }
        try roundTrip(
            ServiceRecord(
                name: ServiceName(namespace: "payments", name: "api"), protocol: .grpc, ports: [9000],
                labels: ["team": "pay"],
                vip: IPAddress("240.0.0.9"), origin: .external,
                externalAddresses: [IPSocketAddress("198.18.0.20:9000")!],
                meshMode: .permissive
            )
        )
        try roundTrip(
            Intention(
                source: .any, destination: .service(ServiceName(name: "backend")), action: .allow,
                permissions: [
                    L7Permission(
                        action: .deny, methods: ["POST"], pathExact: "/admin", pathPrefix: "/a",
                        headers: [HeaderCondition(name: "x-user", exact: "me", prefix: "m", present: true)]
                    )
                ],
                description: "all"
            )
        )
        try roundTrip(
            MeshSettings(
                defaultAction: .deny, stopAll: true, meshMode: .permissive, egress: .refuse,
                telemetry: TelemetrySettings(
                    metricsPush: .otlpHTTP, metricsEndpoint: "http://198.18.0.40:4318", pushInterval: 30,
                    tracesEndpoint: "http://198.18.0.40:4318/v1/traces", traceSampling: 0.5, accessLog: false
                )
            )
        )
    }

    @Test func decodingErrorsNameTheField() throws {
        #expect(throws: AdminError.self) { try JSONBody.decode(Intention.self, from: Data(#"{"source": "a"}"#.utf8)) }
        do {
            _ = try JSONBody.decode(
                ServiceRecord.self, from: Data(#"{"name": "x", "external_addresses": ["nope"]}"#.utf8))
            Issue.record("decoded a bad address")
        } catch let error as AdminError {
            #expect(error.field == "external_addresses[0]")
            #expect(error.status == .badRequest)
        }
    }
}
