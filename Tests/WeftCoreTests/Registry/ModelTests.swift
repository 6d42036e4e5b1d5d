import Foundation
import Testing
import WeftCore

@Suite struct SPIFFEIDTests {
    @Test func parsesWorkloadAndNode() throws {
        let workload = try SPIFFEID(parsing: "spiffe://weft.local/ns/default/svc/backend")
        #expect(workload == .workload(trustDomain: "weft.local", service: "backend"))
        #expect(
            try SPIFFEID(parsing: "spiffe://weft.local/node/host-a") == .node(trustDomain: "weft.local", name: "host-a")
        )
        #expect(workload.description == "spiffe://weft.local/ns/default/svc/backend")
    }

    @Test(arguments: [
        "http://weft.local/node/a", "spiffe://", "spiffe://Weft/node/a", "spiffe://weft.local/node/A",
        "spiffe://weft.local/ns/default/svc/", "spiffe://weft.local/ns/default/svc/x/y", "spiffe://weft.local/other/x",
    ])
    func refuses(_ text: String) {
        #expect(throws: SPIFFEID.ParseError.self) { try SPIFFEID(parsing: text) }
    }
}

@Suite struct DurationTextTests {
    @Test func parses() throws {
        #expect(try DurationText.parse("90") == .seconds(90))
        #expect(try DurationText.parse("90s") == .seconds(90))
        #expect(try DurationText.parse("5m") == .seconds(300))
        #expect(try DurationText.parse("1h30m") == .seconds(5400))
        #expect(try DurationText.parse("7d") == .seconds(604_800))
        #expect(DurationText.format(.seconds(86400)) == "1d")
        #expect(DurationText.format(.seconds(90)) == "90s")
    }

    @Test(arguments: ["", "h", "5x", "1h5", "-3", "99999999999999999999d"])
    func refuses(_ text: String) {
        #expect(throws: DurationText.ParseError.self) { try DurationText.parse(text) }
    }
}

@Suite struct CompiledNodeConfigTests {
    func resources(_ list: [ConfigResource]) -> [String: ConfigResource] {
        Dictionary(uniqueKeysWithValues: list.map { ($0.name, $0) })
    }

    func mesh(stopAll: Bool = false) throws -> ConfigResource {
        try ConfigResource.make(
            name: ConfigResource.meshName,
            MeshResource(
                node: "host-a", trustDomain: "weft.local", meshMode: .strict, egress: .passthrough,
                defaultAction: .deny,
                stopAll: stopAll, vipRanges: [NodeConfig.defaultVIPRange], telemetry: TelemetrySettings()
            )
        )
    }

    @Test func assemblesServicesIntentionsAndSettings() throws {
        let backend = MeshService(
            name: "backend", ports: [8080], vip: IPAddress("240.0.0.7"),
            endpoints: [ServiceEndpoint(address: IPAddress("198.18.0.12")!, port: 8080, node: "host-b")]
        )
        let intention = Intention(
            source: .service(ServiceName(name: "frontend")), destination: .service(ServiceName(name: "backend")),
            action: .allow)
        let config = try CompiledNodeConfig(
            version: 7,
            resources: resources([
                try mesh(),
                try ConfigResource.make(name: ConfigResource.trustBundleName, TrustBundleResource(pem: "PEM")),
                try ConfigResource.make(name: ConfigResource.serviceName(ServiceName(name: "backend")), backend),
                try ConfigResource.make(name: ConfigResource.intentionName(intention), intention),
            ]))
        #expect(config.version == 7)
        #expect(config.nodeConfig.services == [backend])
        #expect(config.policy.intentions == [intention])
        #expect(config.policy.defaultAction == .deny)
        #expect(
            config.policy.evaluate(source: ServiceName(name: "frontend"), destination: ServiceName(name: "backend"))
                .allowed)
        #expect(config.trustBundlePEM == "PEM")
    }

    @Test func equalValuesGiveEqualVersions() throws {
        #expect(try mesh().version == mesh().version)
        #expect(try mesh().version != mesh(stopAll: true).version)
    }

    @Test func refusesIncompleteOrBrokenSets() throws {
        let bundle = try ConfigResource.make(name: ConfigResource.trustBundleName, TrustBundleResource(pem: "PEM"))
        #expect(throws: CompiledNodeConfig.AssemblyError.missing("mesh")) {
            try CompiledNodeConfig(version: 1, resources: resources([bundle]))
        }
        let broken = ConfigResource(name: "service/default/x", payload: Data("{".utf8))
        #expect(throws: CompiledNodeConfig.AssemblyError.self) {
            try CompiledNodeConfig(version: 1, resources: resources([try mesh(), bundle, broken]))
        }
        let unknown = ConfigResource(name: "route/x", payload: Data("{}".utf8))
        #expect(throws: CompiledNodeConfig.AssemblyError.unknown("route/x")) {
            try CompiledNodeConfig(version: 1, resources: resources([try mesh(), bundle, unknown]))
        }
        let duplicateVIP = [
            MeshService(name: "a", ports: [1], vip: IPAddress("240.0.0.7"), endpoints: []),
            MeshService(name: "b", ports: [1], vip: IPAddress("240.0.0.7"), endpoints: []),
        ]
        #expect(throws: CompiledNodeConfig.AssemblyError.self) {
            try CompiledNodeConfig(
                version: 1,
                resources: resources(
                    [try mesh(), bundle]
                        + duplicateVIP.map {
                            try ConfigResource.make(name: ConfigResource.serviceName(ServiceName(name: $0.name)), $0)
                        }))
        }
    }
}
