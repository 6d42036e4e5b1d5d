import Testing
import WeftCore

@Suite struct TOMLTests {
    @Test func parsesTheShapesWeftConfigsUse() throws {
        let doc = try TOML.parse(
            """
            # a node
            name = "host-a"          # trailing comment
            port = 15_001
            mask = 0x5745
            ratio = 0.5
            enabled = true
            'quoted key' = 'C:\\path'
            ports = [
              8080,
              8443, # comment inside
            ]
            labels = { version = "v2", "team" = "pay" }
            capture.dns = false

            [control_plane]
            address = "198.18.0.1:15010"

            [[services]]
            name = "a"
            [[services]]
            name = "b"
            [services.labels]
            tier = "web"
            """)
        #expect(doc["name"]?.string == "host-a")
        #expect(doc["port"]?.integer == 15001)
        #expect(doc["mask"]?.integer == 0x5745)
        #expect(doc["ratio"] == .float(0.5))
        #expect(doc["enabled"]?.boolean == true)
        #expect(doc["quoted key"]?.string == "C:\\path")
        #expect(doc["ports"]?.array == [.integer(8080), .integer(8443)])
        #expect(doc["labels"]?.table?["team"]?.string == "pay")
        #expect(doc["capture"]?.table?["dns"]?.boolean == false)
        #expect(doc["control_plane"]?.table?["address"]?.string == "198.18.0.1:15010")
        let services = try #require(doc["services"]?.array)
        #expect(services.count == 2)
        #expect(services[1].table?["labels"]?.table?["tier"]?.string == "web")
        #expect(doc.line(of: "port") == 3)
        #expect(services[1].table?.line(of: "name") == 21)
    }

    @Test func stringsAndEscapes() throws {
        let doc = try TOML.parse(
            #"""
            a = "tab\there \u00e9 \"q\""
            b = """
            line one
            line two\
               continued"""
            c = '''
            raw \n'''
            """#)
        #expect(doc["a"]?.string == "tab\there é \"q\"")
        #expect(doc["b"]?.string == "line one\nline twocontinued")
        #expect(doc["c"]?.string == "raw \\n")
    }

    @Test(arguments: [
        ("a = 1\na = 2", 2, "defined twice"),
        ("a = ", 1, "expected a value"),
        ("x = 1\n[t]\n[t]", 3, "defined twice"),
        ("a = \"open", 1, "unterminated"),
        ("a = [1, 2", 1, "expected ',' or ']'"),
        ("when = 1979-05-27T07:32:00Z", 1, "dates"),
        ("a = 012", 1, "leading zero"),
        ("a = 1 b = 2", 1, "end of the line"),
        ("a = \"\\q\"", 1, "unknown escape"),
        ("\n\nname = bare", 3, "strings need quotes"),
        ("a = 1\na.b = 2", 2, "already a integer"),
        ("a = {x = 1}\n[a]", 2, "defined twice"),
    ])
    func errorsNameTheLine(text: String, line: Int, message: String) {
        do {
            _ = try TOML.parse(text)
            Issue.record("expected an error for \(text)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }
}
