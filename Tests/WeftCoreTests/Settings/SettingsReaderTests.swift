import Testing
import WeftCore

@Suite struct SettingsReaderTests {
    @Test func everyKindOfSettingIsRead() throws {
        var reader = try SettingsReader(
            parsing: """
                name = "host-a"
                names = ["a", "b"]
                enabled = true
                uid = 1001
                protocol = "grpc"
                timeout = "1h30m"
                listen = "[2001:2::1]:15012"
                upstreams = ["198.18.0.53:53"]
                addresses = ["198.18.0.11", "2001:2::11"]
                range = "240.0.0.0/4"
                ranges = ["198.18.0.0/15", "2001:2::/48"]
                ports = [8080, 8443]
                [labels]
                version = "v2"
                """, file: "x.toml")
        #expect(try reader.string("name") == "host-a")
        #expect(try reader.strings("names") == ["a", "b"])
        #expect(try reader.boolean("enabled") == true)
        #expect(try reader.integer("uid", as: UInt32.self) == 1001)
        #expect(try reader.choice("protocol", as: ServiceProtocol.self) == .grpc)
        #expect(try reader.duration("timeout") == .seconds(5400))
        #expect(try reader.socketAddress("listen") == IPSocketAddress("[2001:2::1]:15012"))
        #expect(try reader.socketAddresses("upstreams") == [IPSocketAddress("198.18.0.53:53")!])
        #expect(try reader.ipAddresses("addresses") == [IPAddress("198.18.0.11")!, IPAddress("2001:2::11")!])
        #expect(try reader.cidr("range") == IPCIDR("240.0.0.0/4"))
        #expect(try reader.cidrs("ranges") == [IPCIDR("198.18.0.0/15"), IPCIDR("2001:2::/48")])
        #expect(try reader.ports("ports") == [8080, 8443])
        #expect(try reader.stringTable("labels") == ["version": "v2"])
        #expect(try reader.string("absent") == nil)
        try reader.finish()
    }

    @Test(arguments: [
        ("a = 1\nname = 2", "x.toml:2: name: must be a string, not an integer"),
        ("enabled = \"yes\"", "x.toml:1: enabled: must be true or false, not a string"),
        ("\nuid = -1", "x.toml:2: uid: must be a whole number from 0 to 4294967295"),
        ("protocol = \"udp\"", "x.toml:1: protocol: 'udp' is not one of tcp, http, http2, grpc"),
        ("timeout = \"soon\"", "x.toml:1: timeout: 'soon' is not a duration"),
        ("listen = \"weftd:15012\"", "x.toml:1: listen: 'weftd:15012' is not ADDRESS:PORT"),
        ("upstreams = [\"198.18.0.53\"]", "x.toml:1: upstreams: '198.18.0.53' is not ADDRESS:PORT"),
        ("addresses = [\"host-a\"]", "x.toml:1: addresses: 'host-a' is not an IP address"),
        ("range = \"240.0.0.1/4\"", "x.toml:1: range: '240.0.0.1/4' has host bits set"),
        ("ranges = \"240.0.0.0/4\"", "x.toml:1: ranges: must be a list of ADDRESS/PREFIX strings, not a string"),
        ("ports = [80, 0]", "x.toml:1: ports: 0 is not a port number (1-65535)"),
        ("ports = 80", "x.toml:1: ports: must be a list of port numbers (1-65535), e.g. [8080], not an integer"),
        ("[labels]\n\nteam = 7", "x.toml:3: labels.team: must be a string, not an integer"),
        ("labels = 7", "x.toml:1: labels: must be a table, not an integer"),
        ("name = \"a\"\nnmae = \"b\"", "x.toml:2: nmae: unknown setting; did you mean name? (known: name, names,"),
        ("name = \"a\"\nname = \"b\"", "x.toml:2: key 'name' is defined twice (column 1)"),
    ])
    func everyErrorIsFileLineKeyProblem(text: String, expected: String) {
        #expect {
            var reader = try SettingsReader(parsing: text, file: "x.toml")
            _ = try reader.string("name")
            _ = try reader.strings("names")
            _ = try reader.boolean("enabled")
            _ = try reader.integer("uid", as: UInt32.self)
            _ = try reader.choice("protocol", as: ServiceProtocol.self)
            _ = try reader.duration("timeout")
            _ = try reader.socketAddress("listen")
            _ = try reader.socketAddresses("upstreams")
            _ = try reader.ipAddresses("addresses")
            _ = try reader.cidr("range")
            _ = try reader.cidrs("ranges")
            _ = try reader.ports("ports")
            _ = try reader.stringTable("labels")
            try reader.finish()
        } throws: { error in
            "\(error)".hasPrefix(expected)
        }
    }

    @Test func aMissingRequiredKeyNamesTheFile() throws {
        let reader = try SettingsReader(parsing: "namespace = \"x\"", file: "x.toml")
        #expect(reader.missing("name").description == "x.toml:1: 'name' is required")
    }

    @Test func nestedTablesHaveTheirOwnKnownKeys() throws {
        var reader = try SettingsReader(parsing: "[limits]\nrate = 5\nburst = 2", file: "x.toml")
        var limits = try #require(try reader.table("limits"))
        #expect(try limits.integer("rate", as: Int.self, in: 1...100) == 5)
        try reader.finish()
        #expect(
            throws: SettingsError(
                file: "x.toml", line: 3, key: "limits.burst", problem: "unknown setting (known: rate)")
        ) {
            try limits.finish()
        }
    }
}
