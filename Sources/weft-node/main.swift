import ArgumentParser
import Dispatch
import Logging
import WeftCore
import WeftNode

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

@main
struct WeftNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weft-node",
        abstract: "The Weft node agent and node proxy: capture, DNS, local discovery and the mesh data plane.",
        version: WeftVersion.current,
        subcommands: [Run.self, Capture.self, Discover.self],
        defaultSubcommand: Run.self
    )
}

/// Options that say what the node captures; they override the node.toml.
struct NodeOptions: ParsableArguments {
    @Option(help: "node.toml to read (default: /etc/weft/node.toml when it exists). Flags override its settings.")
    var config: String?

    @Option(name: .customLong("static-config"), help: "Node config JSON: a static mesh without a control plane.")
    var staticConfig: String?

    @Option(help: "Directory of services.d override files (default: /etc/weft/services.d).")
    var servicesDir: String?

    @Option(name: .customLong("vip-range"), help: "Capture this VIP range too (repeatable).")
    var vipRanges: [String] = []

    @Option(name: .customLong("outbound-port"), help: "Capture outbound TCP to this port at any address (repeatable).")
    var outboundPorts: [UInt16] = []

    @Option(name: .customLong("exclude-port"), help: "Never capture this port (repeatable; default 22).")
    var excludedPorts: [UInt16] = []

    @Option(
        name: .customLong("exclude-cidr"), help: "Never capture outbound to this range (repeatable; loopback always).")
    var excludedCIDRs: [String] = []

    @Flag(name: .customLong("no-dns-capture"), help: "Leave port 53 alone.")
    var noDNSCapture = false

    func settings() throws -> NodeSettings {
        var settings = NodeSettings()
        let defaultPath =
            FileManager.default.fileExists(atPath: NodeSettings.defaultConfigPath)
            ? NodeSettings.defaultConfigPath : nil
        if let path = config ?? defaultPath {
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw ValidationError("--config \(path): cannot read it: \(SystemErrorText.describe(error))")
            }
            do { try settings.apply(toml: text, path: path) } catch { throw ValidationError(error.description) }
        }
        if let staticConfig { settings.nodeConfigPath = staticConfig }
        if let servicesDir { settings.servicesDirectory = servicesDir }
        if !vipRanges.isEmpty {
            settings.capture.vipRanges = try vipRanges.map { text in
                do { return try IPCIDR(text) } catch { throw ValidationError("--vip-range \(text): \(error)") }
            }
        }
        if !outboundPorts.isEmpty { settings.capture.outboundPorts = outboundPorts }
        if !excludedPorts.isEmpty { settings.capture.excludedPorts = excludedPorts }
        settings.capture.excludedCIDRs += try excludedCIDRs.map { text in
            do { return try IPCIDR(text) } catch { throw ValidationError("--exclude-cidr \(text): \(error)") }
        }
        if noDNSCapture { settings.capture.captureDNS = false }
        return settings
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the node: proxy listeners, DNS, capture (needs root).")

    @OptionGroup var node: NodeOptions

    @Option(name: .customLong("node-name"), help: "This node's name when the config gives none (default: host name).")
    var nodeName: String?

    @Option(
        name: .customLong("dns-upstream"),
        help: "Forward non-mesh DNS here instead of /etc/resolv.conf's servers (repeatable, ADDRESS:PORT).")
    var dnsUpstreams: [String] = []

    @Flag(name: .customLong("no-capture"), help: "Do not install nftables capture (listeners and DNS only).")
    var noCapture = false

    @Flag(name: .customLong("no-dns"), help: "Do not run the DNS resolver.")
    var noDNS = false

    @Flag(name: .customLong("cleanup-on-exit"), help: "Remove the capture table when stopping.")
    var cleanupOnExit = false

    @Option(
        name: .customLong("control-plane"),
        help: "weftd's node API, ADDRESS:PORT (its :15012). Without it the node runs a static mesh from --config.")
    var controlPlane: String?

    @Option(
        name: .customLong("join-address"),
        help: "weftd's join listener, ADDRESS:PORT (default: the control plane's address, port 15013).")
    var joinAddress: String?

    @Option(
        name: .customLong("join-token"),
        help: "One-time join token (weftctl node token create --name <node>); needed on the first start only.")
    var joinToken: String?

    @Option(name: .customLong("join-token-file"), help: "Read the join token from this file.")
    var joinTokenFile: String?

    @Option(
        name: .customLong("state-dir"),
        help:
            "Where the node keeps its credentials, last good config and certificates, mode 0700 (default: /var/lib/weft/node)."
    )
    var stateDir: String?

    @Option(
        name: .customLong("node-address"),
        help: "Register endpoints at this address (repeatable; default: the host's interface addresses).")
    var nodeAddresses: [String] = []

    @Option(
        name: .customLong("admin-listen"),
        help: "Serve /metrics, /healthz, /readyz, /config_dump, /certs here, ADDRESS:PORT (default: 127.0.0.1:15020).")
    var adminListen: String?

    @Option(
        name: .customLong("drain-timeout"),
        help: "On SIGTERM, let open connections finish for this long, e.g. 5s, 1m (default: 5s).")
    var drainTimeout: String?

    func run() async throws {
        var settings = try node.settings()
        if let nodeName { settings.nodeName = nodeName }
        if !dnsUpstreams.isEmpty {
            settings.dnsUpstreams = try dnsUpstreams.map { text in
                guard let address = IPSocketAddress(text) else {
                    throw ValidationError(
                        "--dns-upstream \(text): give ADDRESS:PORT, e.g. 198.18.1.2:53 or [2001:2::1]:53")
                }
                return address
            }
        }
        if noCapture { settings.captureEnabled = false }
        if noDNS { settings.dnsEnabled = false }
        if !settings.dnsEnabled { settings.capture.captureDNS = false }
        if cleanupOnExit { settings.cleanupOnExit = true }
        if let controlPlane {
            guard let address = IPSocketAddress(controlPlane) else {
                throw ValidationError("--control-plane \(controlPlane): give ADDRESS:PORT, e.g. 198.18.0.1:15012")
            }
            settings.controlPlaneAddress = address
        }
        if let joinAddress {
            guard let address = IPSocketAddress(joinAddress) else {
                throw ValidationError("--join-address \(joinAddress): give ADDRESS:PORT, e.g. 198.18.0.1:15013")
            }
            settings.joinAddress = address
        }
        if let joinToken { settings.joinToken = joinToken }
        if let joinTokenFile {
            do {
                settings.joinToken = try String(contentsOfFile: joinTokenFile, encoding: .utf8).trimmingWhitespace()
            } catch {
                throw ValidationError("--join-token-file \(joinTokenFile): \(SystemErrorText.describe(error))")
            }
        }
        if let stateDir { settings.stateDirectory = stateDir }
        if !nodeAddresses.isEmpty {
            settings.nodeAddresses = try nodeAddresses.map { text in
                guard let address = IPAddress(text) else {
                    throw ValidationError("--node-address \(text): not an IP address")
                }
                return address
            }
        }
        if let adminListen {
            guard let admin = IPSocketAddress(adminListen) else {
                throw ValidationError("--admin-listen \(adminListen): give ADDRESS:PORT, e.g. 127.0.0.1:15020")
            }
            settings.adminAddresses = [admin]
        }
        if let drainTimeout {
            do {
                settings.drainTimeout = try DurationText.parse(drainTimeout)
            } catch {
                throw ValidationError("--drain-timeout \(drainTimeout): \(error)")
            }
        }
        let agent = NodeAgent(settings: settings)
        try await SignalHandling.runUntilTerminated { try await agent.run() }
    }
}

struct Capture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install, remove or show the nftables capture (table inet weft).",
        subcommands: [Install.self, Uninstall.self, Show.self])

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install the capture table once (no reconcile) and exit.")
        @OptionGroup var node: NodeOptions

        func run() async throws {
            print(try NodeTools.installCapture(try node.settings(), logger: Logger(label: "weft.node")))
        }
    }

    struct Uninstall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the capture table; nothing else is touched.")
        @Option(help: "The table's name.") var table = "weft"

        func run() async throws {
            print(
                try NodeTools.uninstallCapture(tableName: table)
                    ? "removed table inet \(table)" : "table inet \(table) was not installed")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the capture table as the kernel has it.")
        @Option(help: "The table's name.") var table = "weft"

        func run() async throws {
            guard let contents = try NodeTools.showCapture(tableName: table) else {
                print("table inet \(table) is not installed")
                throw ExitCode(3)
            }
            print(contents)
        }
    }
}

struct Discover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the services listening on this host.")

    @Option(help: "Directory of services.d override files.")
    var servicesDir = "/etc/weft/services.d"

    @Flag(help: "Print JSON lines.") var json = false

    func run() async throws {
        let (services, problems) = try NodeTools.discover(servicesDirectory: servicesDir)
        for service in services {
            if json {
                print(try DiscoveredServiceJSON(service).line())
            } else {
                let ports = service.ports.map(String.init).joined(separator: ",")
                print(
                    "\(service.namespace)/\(service.name)\tports=\(ports)\tprotocol=\(service.protocol.rawValue)\tuid=\(service.uid.map(String.init) ?? "-")\tcgroup=\(service.cgroupPath ?? "-")"
                )
            }
        }
        for problem in problems { StandardStream.error.write("weft-node discover: \(problem)\n") }
    }
}

/// Runs the node until SIGTERM or SIGINT, then cancels it so it stops cleanly.
enum SignalHandling {
    static func runUntilTerminated(_ body: @escaping @Sendable () async throws -> Void) async throws {
        let work = Task { try await body() }
        let sources = [SIGTERM, SIGINT].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { work.cancel() }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        try await work.value
    }
}
