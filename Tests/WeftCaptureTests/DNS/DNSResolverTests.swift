import Foundation
import Testing
import WeftCore

@testable import WeftCapture

/// The resolver over real loopback sockets, with dnsmasq as the upstream server.
@Suite("DNS resolver", .serialized)
struct DNSResolverTests {
    static let vip = IPAddress("240.0.0.7")!
    static let vip6 = IPAddress("2001:2::7")!

    static var meshNames: MeshNameTable {
        var table = MeshNameTable()
        table.add(service: "backend", namespace: "default", addresses: [vip, vip6], shortName: true)
        table.add(name: "legacy.ops", addresses: [IPAddress("240.0.0.9")!])
        return table
    }

    static func configuration(
        upstreams: [IPSocketAddress] = [], timeout: Duration = .seconds(2), mark: UInt32? = nil
    ) -> DNSResolverConfiguration {
        DNSResolverConfiguration(
            listenAddresses: [loopbackAnyPort], upstreams: upstreams, upstreamTimeout: timeout, socketMark: mark)
    }

    // MARK: Mesh names

    @Test func meshNameAnswersAAndAAAA() async throws {
        try await withResolver(names: Self.meshNames) { _, server in
            let a = try await DNSTestClient.udpMessage(try makeQuery("backend.default.weft", .a, id: 77), to: server)
            #expect(a.header.id == 77)
            #expect(a.header.isResponse && a.header.isAuthoritative && a.header.recursionDesired)
            #expect(a.responseCode == .noError)
            #expect(a.answers == [.a(try DNSName("backend.default.weft"), Self.vip, ttl: 5)])

            let aaaa = try await DNSTestClient.udpMessage(try makeQuery("backend.default.weft", .aaaa), to: server)
            #expect(aaaa.answers == [.aaaa(try DNSName("backend.default.weft"), Self.vip6, ttl: 5)])

            let any = try await DNSTestClient.udpMessage(try makeQuery("backend.default.weft", .any), to: server)
            #expect(any.answers.count == 2)
        }
    }

    @Test func meshNamesIgnoreCaseAndKeepTheQuestionsSpelling() async throws {
        try await withResolver(names: Self.meshNames) { _, server in
            let answer = try await DNSTestClient.udpMessage(try makeQuery("BackEnd.DEFAULT.Weft"), to: server)
            #expect(answer.responseCode == .noError)
            #expect(answer.answers.map(\.data) == [.a(Self.vip)])
            #expect(answer.answers.first?.name.description == "BackEnd.DEFAULT.Weft")
        }
    }

    @Test func shortAndNamespaceFormsBothResolve() async throws {
        try await withResolver(names: Self.meshNames) { _, server in
            let short = try await DNSTestClient.udpMessage(try makeQuery("backend.weft"), to: server)
            #expect(short.answers.map(\.data) == [.a(Self.vip)])
            let other = try await DNSTestClient.udpMessage(try makeQuery("legacy.ops.weft."), to: server)
            #expect(other.answers.map(\.data) == [.a(IPAddress("240.0.0.9")!)])
        }
    }

    @Test func unknownMeshNameIsNXDOMAIN() async throws {
        try await withResolver(names: Self.meshNames) { resolver, server in
            for name in ["frontend.weft", "backend.prod.weft", "x.backend.default.weft", "legacy.weft"] {
                let answer = try await DNSTestClient.udpMessage(try makeQuery(name), to: server)
                #expect(answer.responseCode == .nameError, "\(name)")
                #expect(answer.header.isAuthoritative)
                #expect(answer.answers.isEmpty)
            }
            #expect(resolver.counters.answeredLocally == 4)
        }
    }

    @Test func knownNameWithoutRecordsOfTheTypeIsNODATA() async throws {
        try await withResolver(names: Self.meshNames) { _, server in
            let cases: [(String, DNSRecordType)] = [
                ("legacy.ops.weft", .aaaa), ("backend.weft", .mx), ("backend.weft", .txt),
                ("default.weft", .a), ("ops.weft", .a), ("weft", .soa),
            ]
            for (name, type) in cases {
                let answer = try await DNSTestClient.udpMessage(try makeQuery(name, type), to: server)
                #expect(answer.responseCode == .noError, "\(name) \(type)")
                #expect(answer.answers.isEmpty, "\(name) \(type)")
            }
        }
    }

    @Test func nameTableUpdateTakesEffect() async throws {
        try await withResolver { resolver, server in
            let before = try await DNSTestClient.udpMessage(try makeQuery("payments.weft"), to: server)
            #expect(before.responseCode == .nameError)

            resolver.update(names: ["payments": [IPAddress("240.0.0.21")!]])
            let after = try await DNSTestClient.udpMessage(try makeQuery("payments.weft"), to: server)
            #expect(after.answers.map(\.data) == [.a(IPAddress("240.0.0.21")!)])

            resolver.update(names: [:])
            let removed = try await DNSTestClient.udpMessage(try makeQuery("payments.weft"), to: server)
            #expect(removed.responseCode == .nameError)
        }
    }

    @Test func ednsQueryGetsAnOPTRecordBack() async throws {
        try await withResolver(names: Self.meshNames) { _, server in
            let answer = try await DNSTestClient.udpMessage(try makeQuery("backend.weft", ednsSize: 4096), to: server)
            #expect(answer.edns?.udpPayloadSize == 1232)
            #expect(answer.answers.count == 1)
        }
    }

    @Test func otherOpcodesAreNOTIMP() async throws {
        try await withResolver(names: Self.meshNames) { _, server in
            let answer = try await DNSTestClient.udpMessage(try makeQuery("backend.weft", opcode: .status), to: server)
            #expect(answer.responseCode == .notImplemented)
        }
    }

    @Test func listensOnIPv6Loopback() async throws {
        let configuration = DNSResolverConfiguration(listenAddresses: [IPSocketAddress(address: .v6(0, 1), port: 0)])
        try await withResolver(configuration, names: Self.meshNames) { _, server in
            #expect(!server.address.isIPv4)
            let udp = try await DNSTestClient.udpMessage(try makeQuery("backend.weft", .aaaa), to: server)
            #expect(udp.answers.map(\.data) == [.aaaa(Self.vip6)])
            let tcp = try await DNSTestClient.tcp([try makeQuery("backend.weft")], to: server)
            #expect(tcp.first?.answers.map(\.data) == [.a(Self.vip)])
        }
    }

    // MARK: Malformed queries

    @Test func malformedUDPQueryGetsFORMERRWithTheSameID() async throws {
        try await withResolver(names: Self.meshNames) { resolver, server in
            let garbage: [UInt8] = [0x5A, 0x5A, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1]
            let answer = try await DNSTestClient.udpMessage(garbage, to: server)
            #expect(answer.header.id == 0x5A5A)
            #expect(answer.header.isResponse)
            #expect(answer.responseCode == .formatError)

            let twoQuestions = DNSMessage(
                header: DNSHeader(id: 3),
                questions: [
                    DNSQuestion(name: try DNSName("a.weft"), type: .a),
                    DNSQuestion(name: try DNSName("b.weft"), type: .a),
                ])
            let second = try await DNSTestClient.udpMessage(try twoQuestions.encoded(), to: server)
            #expect(second.responseCode == .formatError)

            let short = try await DNSTestClient.udp(
                [0x5A, 0x5A, 0x01, 0x00, 0], to: server, timeout: .milliseconds(300))
            #expect(short == nil)

            var response = try makeQuery("backend.weft")
            response[2] |= 0x80
            let echo = try await DNSTestClient.udp(response, to: server, timeout: .milliseconds(300))
            #expect(echo == nil)

            #expect(resolver.counters.malformed == 3)
            #expect(resolver.counters.dropped == 1)
        }
    }

    @Test func malformedTCPQueryGetsFORMERRAndTheConnectionStaysUsable() async throws {
        try await withResolver(names: Self.meshNames) { _, server in
            let garbage: [UInt8] = [0x11, 0x22, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 64, 0x61]
            let framed = [0, UInt8(garbage.count)] + garbage
            let good = try makeQuery("backend.weft", id: 0x3333)
            let exchange = try await DNSTestClient.tcp(
                raw: framed + [0, UInt8(good.count)] + good, to: server, expecting: 2)
            #expect(exchange.answers.count == 2)
            let answers = try exchange.answers.map { try DNSMessage(decoding: $0) }
            let formerr = try #require(answers.first { $0.header.id == 0x1122 })
            #expect(formerr.responseCode == .formatError)
            #expect(answers.first { $0.header.id == 0x3333 }?.answers.count == 1)
        }
    }

    @Test func oversizedTCPFrameClosesTheConnection() async throws {
        try await withResolver { _, server in
            let exchange = try await DNSTestClient.tcp(
                raw: [0xFF, 0xFF] + Array(repeating: 0, count: 100), to: server, expecting: 1)
            #expect(exchange.closedByServer)
            #expect(exchange.answers.isEmpty)
        }
    }

    @Test func idleTCPConnectionIsClosed() async throws {
        var configuration = Self.configuration()
        configuration.tcpIdleTimeout = .milliseconds(300)
        try await withResolver(configuration) { _, server in
            let start = ContinuousClock.now
            let exchange = try await DNSTestClient.tcp(raw: [], to: server, expecting: 1, timeout: .seconds(5))
            #expect(exchange.closedByServer)
            #expect(ContinuousClock.now - start < .seconds(3))
        }
    }

    // MARK: TCP

    @Test func twoQueriesOnOneTCPConnection() async throws {
        try await withDnsmasq { upstream in
            try await withResolver(Self.configuration(upstreams: [upstream]), names: Self.meshNames) {
                resolver, server in
                let answers = try await DNSTestClient.tcp(
                    [
                        try makeQuery("backend.default.weft", id: 1),
                        try makeQuery("www.example.test", id: 2),
                    ], to: server)
                #expect(answers.count == 2)
                #expect(answers.first { $0.header.id == 1 }?.answers.map(\.data) == [.a(Self.vip)])
                #expect(answers.first { $0.header.id == 2 }?.answers.map(\.data) == [.a(IPAddress("198.18.0.53")!)])
                #expect(resolver.counters.forwarded == 1)
                #expect(resolver.counters.answeredLocally == 1)
            }
        }
    }

    // MARK: Forwarding

    @Test func forwardsOtherNamesOverUDPAndTCP() async throws {
        try await withDnsmasq { upstream in
            try await withResolver(Self.configuration(upstreams: [upstream])) { resolver, server in
                let udp = try await DNSTestClient.udpMessage(try makeQuery("example.test", id: 0x0A0B), to: server)
                #expect(udp.header.id == 0x0A0B)
                #expect(udp.questions.first?.name.description == "example.test")
                #expect(udp.answers.map(\.data) == [.a(IPAddress("198.18.0.53")!)])

                let tcp = try await DNSTestClient.tcp([try makeQuery("api.example.test", id: 0x0C0D)], to: server)
                #expect(tcp.first?.header.id == 0x0C0D)
                #expect(tcp.first?.answers.map(\.data) == [.a(IPAddress("198.18.0.53")!)])
                #expect(resolver.counters.forwarded == 2)
            }
        }
    }

    @Test func forwardsManyConcurrentQueries() async throws {
        try await withDnsmasq { upstream in
            try await withResolver(Self.configuration(upstreams: [upstream])) { resolver, server in
                try await withThrowingTaskGroup(of: DNSMessage.self) { group in
                    for index in 0..<50 {
                        group.addTask {
                            try await DNSTestClient.udpMessage(
                                try makeQuery("host\(index).example.test", id: UInt16(index)), to: server)
                        }
                    }
                    var count = 0
                    for try await answer in group {
                        #expect(answer.answers.map(\.data) == [.a(IPAddress("198.18.0.53")!)])
                        #expect(answer.questions.first?.name.description == "host\(answer.header.id).example.test")
                        count += 1
                    }
                    #expect(count == 50)
                }
                #expect(resolver.counters.forwarded == 50)
            }
        }
    }

    @Test func upstreamSocketsCarryTheConfiguredMark() async throws {
        try await withDnsmasq { upstream in
            try await withResolver(Self.configuration(upstreams: [upstream], mark: 0x4_5746)) { _, server in
                let udp = try await DNSTestClient.udpMessage(try makeQuery("example.test"), to: server)
                #expect(udp.answers.count == 1)
                let tcp = try await DNSTestClient.tcp([try makeQuery("example.test")], to: server)
                #expect(tcp.first?.answers.count == 1)
            }
        }
    }

    @Test func deadUpstreamGivesSERVFAILWithinTheTimeout() async throws {
        let dead = [try await deadLoopbackServer(), try await deadLoopbackServer()]
        try await withResolver(Self.configuration(upstreams: dead, timeout: .milliseconds(300))) { resolver, server in
            let start = ContinuousClock.now
            let udp = try await DNSTestClient.udpMessage(
                try makeQuery("example.test", id: 9, ednsSize: 1232), to: server)
            let elapsed = ContinuousClock.now - start
            #expect(udp.header.id == 9)
            #expect(udp.responseCode == .serverFailure)
            #expect(udp.questions.first?.name.description == "example.test")
            #expect(udp.edns != nil)
            #expect(elapsed >= .milliseconds(550) && elapsed < .seconds(2))

            let tcp = try await DNSTestClient.tcp([try makeQuery("example.test", id: 10)], to: server)
            #expect(tcp.first?.responseCode == .serverFailure)
            #expect(resolver.counters.forwardFailures == 2)
        }
    }

    @Test func failsOverToTheNextUpstream() async throws {
        let dead = try await deadLoopbackServer()
        try await withDnsmasq { upstream in
            try await withResolver(Self.configuration(upstreams: [dead, upstream], timeout: .milliseconds(300))) {
                _, server in
                let udp = try await DNSTestClient.udpMessage(try makeQuery("example.test"), to: server)
                #expect(udp.answers.map(\.data) == [.a(IPAddress("198.18.0.53")!)])
                let tcp = try await DNSTestClient.tcp([try makeQuery("example.test")], to: server)
                #expect(tcp.first?.answers.count == 1)
            }
        }
    }

    @Test func noUpstreamsGiveSERVFAIL() async throws {
        try await withResolver { resolver, server in
            resolver.update(upstreams: [server])  // our own address: skipped, so nothing is left
            let answer = try await DNSTestClient.udpMessage(
                try makeQuery("example.test"), to: server, timeout: .seconds(2))
            #expect(answer.responseCode == .serverFailure)
        }
    }

    // MARK: Truncation

    @Test func largeMeshAnswerIsTruncatedOverUDPAndWholeOverTCP() async throws {
        let many = (1...60).map { IPAddress.v4(0xF000_0100 + UInt32($0)) }
        try await withResolver(names: MeshNameTable(["big": many])) { resolver, server in
            let udp = try await DNSTestClient.udpMessage(try makeQuery("big.weft"), to: server)
            #expect(udp.header.isTruncated)
            #expect(udp.answers.isEmpty)
            #expect(udp.questions.count == 1)

            let edns = try await DNSTestClient.udpMessage(try makeQuery("big.weft", ednsSize: 4096), to: server)
            #expect(!edns.header.isTruncated)
            #expect(edns.answers.count == 60)

            let tcp = try await DNSTestClient.tcp([try makeQuery("big.weft")], to: server)
            #expect(tcp.first?.header.isTruncated == false)
            #expect(tcp.first?.answers.count == 60)
            #expect(resolver.counters.truncated == 1)
        }
    }

    @Test func truncatedUpstreamAnswerPassesThroughAndTCPFallbackGetsItAll() async throws {
        let records = (1...60).map { "--host-record=many.example.test,198.18.1.\($0)" }
        try await withDnsmasq(extraArguments: records) { upstream in
            try await withResolver(Self.configuration(upstreams: [upstream])) { _, server in
                let udp = try await DNSTestClient.udpMessage(try makeQuery("many.example.test", id: 5), to: server)
                #expect(udp.header.id == 5)
                #expect(udp.header.isTruncated)
                #expect(udp.answers.count < 60)

                let tcp = try await DNSTestClient.tcp([try makeQuery("many.example.test", id: 6)], to: server)
                #expect(tcp.first?.header.isTruncated == false)
                #expect(tcp.first?.answers.count == 60)
            }
        }
    }

    // MARK: Life cycle

    @Test func startTwiceFailsAndShutdownFreesThePort() async throws {
        let resolver = try DNSResolver(configuration: Self.configuration())
        try await resolver.start()
        let address = resolver.localAddresses[0]
        await #expect(throws: DNSResolverError.alreadyStarted) { try await resolver.start() }
        await resolver.shutdown()
        #expect(resolver.localAddresses.isEmpty)

        let again = try DNSResolver(configuration: DNSResolverConfiguration(listenAddresses: [address]))
        try await again.start()
        await again.shutdown()
    }

    @Test func bindingABusyPortFails() async throws {
        try await withResolver { _, server in
            let second = try DNSResolver(configuration: DNSResolverConfiguration(listenAddresses: [server]))
            await #expect(throws: DNSResolverError.self) { try await second.start() }
        }
    }
}
