import Foundation
import Testing
import WeftControlPlane
import WeftCore

@Suite struct ControlPlaneFlagsTests {
    @Test func flagsOverrideWeftdToml() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "weftd-flags-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("weftd.toml").path
        try """
        data_dir = "\(directory.path)/from-file"
        node_listen = "198.18.0.1:15012"
        heartbeat_interval = "5s"
        """.write(toFile: config, atomically: true, encoding: .utf8)
        var flags = ControlPlaneFlags()
        flags.config = config
        flags.dataDirectory = directory.path + "/from-flag"
        flags.joinListen = "[2001:2::1]:25013"
        flags.heartbeatInterval = "2s"
        flags.serverNames = ["weftd.example"]
        let configuration = try ControlPlaneConfiguration.load(flags: flags, defaultPath: "/nonexistent")
        #expect(configuration.dataDirectory == directory.path + "/from-flag")
        #expect(configuration.nodeListen == IPSocketAddress("198.18.0.1:15012"))
        #expect(configuration.joinListen == IPSocketAddress("[2001:2::1]:25013"))
        #expect(configuration.heartbeatInterval == .seconds(2))
        #expect(configuration.serverNames.contains("weftd.example"))
    }

    @Test func theCAKeyEncryptionKeyFileComesFromTheDataDirectoryWeftdTomlOrAFlag() throws {
        var configuration = ControlPlaneConfiguration()
        configuration.dataDirectory = "/var/lib/weft-test"
        #expect(configuration.caKeyFile == AuthorityLoader.KeyFile(path: "/var/lib/weft-test/ca-kek", mayCreate: true))

        try configuration.apply(toml: #"ca_key_encryption_key_file = "/etc/weft/ca-kek""#, path: "weftd.toml")
        #expect(configuration.caKeyFile == AuthorityLoader.KeyFile(path: "/etc/weft/ca-kek", mayCreate: false))

        var flags = ControlPlaneFlags()
        flags.caKeyEncryptionKeyFile = "/run/credentials/weftd.service/ca-kek"
        try configuration.apply(flags: flags)
        #expect(
            configuration.caKeyFile
                == AuthorityLoader.KeyFile(path: "/run/credentials/weftd.service/ca-kek", mayCreate: false))
    }

    @Test(arguments: [
        ("node-listen", "weftd:15012", "--node-listen weftd:15012: 'weftd:15012' is not ADDRESS:PORT"),
        ("node-timeout", "a while", "--node-timeout a while: 'a while' is not a duration"),
    ])
    func aBadFlagIsRefusedAndChangesNothing(flag: String, value: String, expected: String) {
        var flags = ControlPlaneFlags()
        flags.dataDirectory = "/changed"
        if flag == "node-listen" { flags.nodeListen = value } else { flags.nodeTimeout = value }
        var configuration = ControlPlaneConfiguration()
        configuration.dataDirectory = "/kept"
        #expect {
            try configuration.apply(flags: flags)
        } throws: { error in
            "\(error)".hasPrefix(expected)
        }
        #expect(configuration.dataDirectory == "/kept", "a refused flag changes nothing")
    }
}
