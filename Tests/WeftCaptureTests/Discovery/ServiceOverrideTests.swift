import Foundation
import Testing
import WeftCore

@testable import WeftCapture

@Suite("services.d files")
struct ServiceOverrideTests {
    @Test func fullFileParses() throws {
        let text = """
            name = "backend"
            namespace = "shop"
            unit = "backend-v2.service"
            ports = [8080, 8443]
            protocol = "http"
            [labels]
            version = "v2"
            """
        let override = try ServiceOverrideLoader.parse(text, file: "backend.toml")
        #expect(override.name == "backend")
        #expect(override.namespace == "shop")
        #expect(override.matcher == .unit("backend-v2.service"))
        #expect(override.ports == [8080, 8443])
        #expect(override.protocol == .http)
        #expect(override.labels == ["version": "v2"])
    }

    @Test func defaultsMatchTheUnitNamedAfterTheService() throws {
        let override = try ServiceOverrideLoader.parse("name = \"api\"", file: "api.toml")
        #expect(override.namespace == "default")
        #expect(override.matcher == .unit("api.service"))
        let rules = CgroupIdentityRules()
        func matches(_ path: String, delegated: Bool = false) -> Bool {
            let entry = CgroupEntry(path: path, delegated: delegated)
            return override.matches(entry: entry, unit: try? rules.unit(of: entry).get(), uid: 0)
        }
        #expect(matches("system.slice/api.service"))
        #expect(!matches("system.slice/api2.service"))
        #expect(!matches("user.slice/user-1000.slice/user@1000.service/app.slice/api.service"), "a user's unit")
        #expect(!matches("system.slice/api.service", delegated: true))
    }

    @Test func cgroupMatchersAreAnchoredAtTheRootAndUIDMatchersTakeAnyCgroup() throws {
        let byCgroup = try ServiceOverrideLoader.parse("name = \"a\"\ncgroup = \"/weft.slice/a\"", file: "a.toml")
        func matches(_ override: ServiceOverride, _ path: String, uid: UInt32) -> Bool {
            override.matches(entry: CgroupEntry(path: path, delegated: false), unit: nil, uid: uid)
        }
        #expect(matches(byCgroup, "weft.slice/a", uid: 5))
        #expect(matches(byCgroup, "weft.slice/a/worker", uid: 5), "the cgroups below it too")
        #expect(!matches(byCgroup, "lab/weft.slice/a", uid: 5), "anchored: not a path that ends the same way")
        #expect(!matches(byCgroup, "weft.slice/ab", uid: 5))
        let byUID = try ServiceOverrideLoader.parse("name = \"b\"\nuid = 1001", file: "b.toml")
        #expect(matches(byUID, "anything", uid: 1001))
        #expect(!matches(byUID, "anything", uid: 1002))
    }

    @Test(arguments: [
        ("namespace = \"x\"", 1, "'name' is required"),
        ("name = \"ok\"\nport = 80", 2, "port: unknown setting; did you mean ports?"),
        ("name = \"Bad_Name\"", 1, "name:"),
        ("name = \"ok\"\n\nports = [80, 70000]", 3, "ports: 70000 is not a port number"),
        ("name = \"ok\"\nports = 80", 2, "ports: must be a list of port numbers"),
        ("name = \"ok\"\nprotocol = \"udp\"", 2, "protocol: 'udp' is not one of tcp, http, http2, grpc"),
        ("name = \"ok\"\nunit = \"ok.socket\"", 2, "must be a systemd service unit name"),
        ("name = \"ok\"\nunit = \"ok.service\"\nuid = 3", 3, "use only one of unit, cgroup and uid"),
        ("name = \"ok\"\nuid = -1", 2, "uid: must be a whole number"),
        ("name = \"ok\"\n[labels]\nteam = 7", 3, "labels.team: must be a string"),
        ("name = \"ok\"\nname = \"again\"", 2, "defined twice"),
        ("name = \"ok", 1, "unterminated string"),
    ])
    func badFilesNameTheLine(text: String, line: Int, message: String) {
        #expect {
            try ServiceOverrideLoader.parse(text, file: "/etc/weft/services.d/x.toml")
        } throws: { error in
            guard let error = error as? SettingsError else { return false }
            return error.file == "/etc/weft/services.d/x.toml" && error.line == line
                && error.message.contains(message)
                && error.description.hasPrefix("/etc/weft/services.d/x.toml:\(line): ")
        }
    }

    @Test func aBrokenFileIsReportedAndTheOthersStillLoad() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("weft-services-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "name = \"alpha\"\nports = [80]".write(toFile: directory + "/a.toml", atomically: true, encoding: .utf8)
        try "name = \"beta\"\nprotocol = \"smtp\"".write(
            toFile: directory + "/b.toml", atomically: true, encoding: .utf8)
        try "name = \"gamma\"".write(toFile: directory + "/c.toml", atomically: true, encoding: .utf8)
        try "name = \"alpha\"".write(toFile: directory + "/d.toml", atomically: true, encoding: .utf8)
        try "not toml at all".write(toFile: directory + "/README", atomically: true, encoding: .utf8)

        let (overrides, errors) = ServiceOverrideLoader.load(directory: directory)
        #expect(overrides.map(\.name) == ["alpha", "gamma"])
        #expect(errors.count == 2)
        #expect(errors[0].file == directory + "/b.toml" && errors[0].line == 2)
        #expect(
            errors[1].file == directory + "/d.toml"
                && errors[1].message.contains("already defined in \(directory)/a.toml"))
    }

    @Test func missingDirectoryMeansNoOverrides() {
        let (overrides, errors) = ServiceOverrideLoader.load(directory: "/nonexistent/weft/services.d")
        #expect(overrides.isEmpty && errors.isEmpty)
    }
}
