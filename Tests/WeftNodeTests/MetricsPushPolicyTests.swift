import Foundation
import Testing
import WeftCore

@testable import WeftNode

/// The metrics push leaves uncaptured, so the node holds it to its egress policy itself; its credentials come
/// from a file on the node.
struct MetricsPushPolicyTests {
    static let endpoint = IPSocketAddress("198.18.0.12:8080")!

    static func state(egress: EgressPolicy) -> NodeState {
        let api = MeshService(
            name: "api", ports: [8080], vip: IPAddress("240.0.0.9"),
            endpoints: [ServiceEndpoint(address: endpoint.address, port: endpoint.port, node: "b")])
        return NodeState(config: NodeConfig(version: 1, node: "a", egress: egress, services: [api]))
    }

    static let policy = PushDestinationPolicy(excluded: [try! IPCIDR("127.0.0.0/8"), try! IPCIDR("198.19.0.0/16")])

    @Test(arguments: [
        // destination, passthrough allows, refuse allows
        ("198.18.5.5:9090", true, false), ("198.19.1.1:9090", true, true), ("127.0.0.1:9090", true, true),
        ("198.18.0.12:8080", true, true), ("240.0.0.9:8080", false, false),
    ])
    func pushDestinationsFollowTheEgressPolicy(destination: String, passthrough: Bool, refuse: Bool) {
        let address = IPSocketAddress(destination)!
        #expect((Self.policy.refusal(for: address, state: Self.state(egress: .passthrough)) == nil) == passthrough)
        let refusal = Self.policy.refusal(for: address, state: Self.state(egress: .refuse))
        #expect((refusal == nil) == refuse, "\(destination): \(refusal ?? "allowed")")
    }

    @Test func aRefusedDestinationIsNeverConnectedTo() async throws {
        await #expect {
            _ = try await MarkedHTTPPost.post(
                url: "http://198.18.5.5:9090/api/v1/write", headers: [], body: [], mark: nil, timeout: .seconds(2),
                refusal: { Self.policy.refusal(for: $0, state: Self.state(egress: .refuse)) })
        } throws: { error in
            "\(error)".contains("refused: 198.18.5.5:9090 is outside the mesh")
        }
    }

    @Test func credentialsComeFromAFileOnTheNode() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("weft-push-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func file(_ name: String, _ text: String) throws -> String {
            let path = "\(directory)/\(name)"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        #expect(
            try MetricsPushCredentials.bearerTokenFile(file("token", "s3cret\n")).authorization() == "Bearer s3cret")
        #expect(
            try MetricsPushCredentials.basicAuthFile(file("basic", "weft:pa:ss\n")).authorization()
                == "Basic \(Data("weft:pa:ss".utf8).base64EncodedString())")
        #expect(throws: MetricsPushCredentials.Unreadable.self) {
            try MetricsPushCredentials.basicAuthFile(file("nocolon", "weft")).authorization()
        }
        #expect(throws: MetricsPushCredentials.Unreadable.self) {
            try MetricsPushCredentials.bearerTokenFile(file("two", "a\nb")).authorization()
        }
        #expect(throws: MetricsPushCredentials.Unreadable.self) {
            try MetricsPushCredentials.bearerTokenFile("\(directory)/missing").authorization()
        }
    }
}
