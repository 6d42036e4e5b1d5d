import Testing
import WeftCore

@testable import WeftCapture

@Suite("DNS resolver configuration and resolv.conf")
struct DNSConfigurationTests {
    @Test func defaultsAreValid() throws {
        let configuration = DNSResolverConfiguration()
        try configuration.validate()
        #expect(configuration.listenAddresses.map(\.description) == ["127.0.0.1:15053", "[::1]:15053"])
        #expect(configuration.meshDomain == "weft")
        #expect(configuration.meshTTL == 5)
        #expect(configuration.upstreamTimeout == .seconds(2))
    }

    @Test(arguments: [
        (DNSResolverConfiguration(listenAddresses: []), DNSResolverConfigurationError.noListenAddresses),
        (DNSResolverConfiguration(meshDomain: "Weft!"), .invalidMeshDomain("Weft!")),
        (DNSResolverConfiguration(meshDomain: "mesh..local"), .invalidMeshDomain("mesh..local")),
        (DNSResolverConfiguration(meshTTL: 100_000), .meshTTLTooLong(100_000)),
        (
            DNSResolverConfiguration(upstreams: [IPSocketAddress("198.18.0.1:0")!]),
            .invalidUpstream(IPSocketAddress("198.18.0.1:0")!)
        ),
        (DNSResolverConfiguration(upstreamTimeout: .zero), .invalidUpstreamTimeout(.zero)),
        (DNSResolverConfiguration(tcpIdleTimeout: .seconds(-1)), .invalidIdleTimeout(.seconds(-1))),
        (DNSResolverConfiguration(maxUDPResponseSize: 100), .outOfRange("maxUDPResponseSize", 100, 512...65_535)),
        (DNSResolverConfiguration(maxPipelinedTCPQueries: 0), .outOfRange("maxPipelinedTCPQueries", 0, 1...1024)),
    ])
    func invalidConfigurationsAreRejected(
        _ configuration: DNSResolverConfiguration, _ expected: DNSResolverConfigurationError
    ) {
        #expect(throws: expected) { try configuration.validate() }
        #expect(!expected.description.isEmpty)
    }

    @Test func duplicateListenAddressIsRejected() {
        let address = IPSocketAddress("127.0.0.1:15053")!
        #expect(throws: DNSResolverConfigurationError.duplicateListenAddress(address)) {
            try DNSResolverConfiguration(listenAddresses: [address, address]).validate()
        }
    }

    @Test func multiLabelMeshDomainIsValid() throws {
        try DNSResolverConfiguration(meshDomain: "mesh.internal").validate()
    }

    @Test func resolvConfReadsNameservers() {
        let conf = ResolvConf.parse(
            """
            # generated
            search example.test
            nameserver 198.18.0.1
            nameserver\t2001:2::53   # comment
            options edns0 trust-ad
            nameserver 198.18.0.1
            """)
        #expect(conf.nameservers.map(\.description) == ["198.18.0.1:53", "[2001:2::53]:53"])
        #expect(conf.warnings.isEmpty)
    }

    @Test func malformedNameserverLinesAreWarnedAboutAndSkipped() {
        let conf = ResolvConf.parse(
            """
            nameserver
            nameserver dns.example.test
            nameserver fe80::1%eth0
            nameserver 198.18.0.1 198.18.0.2
            nameserver 300.1.1.1
            nameserver 198.18.0.9
            """)
        #expect(conf.nameservers.map(\.description) == ["198.18.0.9:53"])
        #expect(conf.warnings.count == 5)
        #expect(conf.warnings[1].contains("line 2"))
    }

    @Test func ownListenAddressesAreNotUpstreams() {
        let conf = ResolvConf(nameservers: [
            IPSocketAddress("127.0.0.1:15053")!, IPSocketAddress("127.0.0.53:53")!, IPSocketAddress("[::1]:15053")!,
            IPSocketAddress("198.18.0.1:53")!,
        ])
        let upstreams = conf.upstreams(excluding: DNSResolverConfiguration.defaultListenAddresses)
        #expect(upstreams.map(\.description) == ["127.0.0.53:53", "198.18.0.1:53"])
        let wildcard = conf.upstreams(excluding: [IPSocketAddress("0.0.0.0:53")!])
        #expect(wildcard.map(\.description) == ["127.0.0.1:15053", "[::1]:15053"])
    }

    @Test func missingResolvConfGivesNoServers() {
        let conf = ResolvConf.load(path: "/nonexistent/weft-dns/resolv.conf", logger: .init(label: "test"))
        #expect(conf.nameservers.isEmpty)
        #expect(conf.warnings.count == 1)
    }

    @Test func meshNameTableLookups() {
        var table = MeshNameTable()
        table.add(service: "Backend", namespace: "default", addresses: [.v4(1), .v4(1), .v4(2)], shortName: false)
        #expect(table.lookup("backend.default") == .found([.v4(1), .v4(2)]))
        #expect(table.lookup("BACKEND.DEFAULT.") == .found([.v4(1), .v4(2)]))
        #expect(table.lookup("default") == .emptyNonTerminal)
        #expect(table.lookup("") == .emptyNonTerminal)
        #expect(table.lookup("backend") == .notFound)
        #expect(table.count == 1)
    }
}
