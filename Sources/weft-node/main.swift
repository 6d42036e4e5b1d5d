import ArgumentParser
import Logging
import WeftCore
import WeftLogging
import WeftNode

@main
struct WeftNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weft-node",
        abstract: "The Weft node agent and node proxy: capture, DNS, local discovery and the mesh data plane.",
        version: WeftVersion.current,
        subcommands: [Run.self, Supervise.self, Capture.self, Discover.self],
        defaultSubcommand: Run.self
    )
}

/// `--log-level` and `--log-format`, on every command.
struct LoggingOptions: ParsableArguments {
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel = "info"
    @Option(help: "text, or json (one object a line); under journald each line carries its priority.") var logFormat =
        "text"

    init() {}

    init(logLevel: String, logFormat: String) {
        self.logLevel = logLevel
        self.logFormat = logFormat
    }

    func settings() throws -> LoggingSettings {
        do { return try LoggingSettings(level: logLevel, format: logFormat) } catch {
            throw ValidationError(error.description)
        }
    }
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

    var flags: NodeFlags {
        var flags = NodeFlags()
        flags.config = config
        flags.staticConfig = staticConfig
        flags.servicesDirectory = servicesDir
        flags.vipRanges = vipRanges
        flags.outboundPorts = outboundPorts
        flags.excludedPorts = excludedPorts
        flags.excludedCIDRs = excludedCIDRs
        flags.noDNSCapture = noDNSCapture
        return flags
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the node: proxy listeners, DNS, capture (needs root).")

    @OptionGroup var node: NodeOptions
    @OptionGroup var logging: LoggingOptions

    @Option(name: .customLong("node-name"), help: "This node's name when the config gives none (default: host name).")
    var nodeName: String?

    @Option(
        name: .customLong("dns-upstream"),
        help: "Forward non-mesh DNS here instead of /etc/resolv.conf's servers (repeatable, ADDRESS:PORT).")
    var dnsUpstreams: [String] = []

    @Option(
        name: .customLong("identity-slice"),
        help:
            "A slice (path from the cgroup2 root) whose service units are identities (repeatable; default system.slice)."
    )
    var identitySlices: [String] = []

    @Flag(name: .customLong("no-capture"), help: "Do not install nftables capture (listeners and DNS only).")
    var noCapture = false

    @Flag(name: .customLong("no-dns"), help: "Do not run the DNS resolver.")
    var noDNS = false

    @Flag(
        name: .customLong("fail-closed"),
        help: "Keep the capture when stopping: mesh traffic is refused until a node runs again (default: removed).")
    var failClosed = false

    @Flag(name: .customLong("cleanup-on-exit"), help: .hidden)
    var cleanupOnExit = false

    @Option(
        name: .customLong("handover-wait"),
        help: "After SIGUSR2 (a restart), serve this long while no successor takes over, then stop (default 10s).")
    var handOverWait: String?

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
            "Where the node keeps its credentials, last good config and certificates, mode 0700 (default: /var/lib/weft-node)."
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
        help: "When stopping, let open connections finish for this long, e.g. 30s, 10m (default: 10m).")
    var drainTimeout: String?

    @Option(
        name: .customLong("metrics-push-bearer-token-file"),
        help: "Send the metrics push with 'Authorization: Bearer <this file's content>'.")
    var metricsPushBearerTokenFile: String?

    @Option(
        name: .customLong("metrics-push-basic-auth-file"),
        help: "Send the metrics push with basic auth from this file (user:password).")
    var metricsPushBasicAuthFile: String?

    func run() async throws {
        var flags = node.flags
        flags.nodeName = nodeName
        flags.dnsUpstreams = dnsUpstreams
        flags.identitySlices = identitySlices
        flags.noCapture = noCapture
        flags.noDNS = noDNS
        flags.cleanupOnExit = cleanupOnExit
        flags.failClosed = failClosed
        flags.handOverWait = handOverWait
        flags.controlPlane = controlPlane
        flags.joinAddress = joinAddress
        flags.joinToken = joinToken
        flags.joinTokenFile = joinTokenFile
        flags.stateDirectory = stateDir
        flags.nodeAddresses = nodeAddresses
        flags.adminListen = adminListen
        flags.drainTimeout = drainTimeout
        flags.metricsPushBearerTokenFile = metricsPushBearerTokenFile
        flags.metricsPushBasicAuthFile = metricsPushBasicAuthFile
        try await NodeCommands.run(flags: flags, logging: try logging.settings())
    }
}

struct Supervise: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the node as a supervised worker: the main process of the systemd unit (hitless restarts).",
        discussion: """
            Takes the options of `run` and passes them to its worker. SIGTERM releases the worker (it serves until \
            the next start's worker takes its sockets over, at most --handover-wait) and exits; SIGHUP starts a \
            new worker from the binary on disk, which takes over; the worker's exit is the supervisor's.
            """)

    @Argument(parsing: .captureForPassthrough, help: "Options for `weft-node run`.")
    var runArguments: [String] = []

    func run() async throws {
        // The supervisor logs as its worker does.
        func value(_ name: String) -> String? {
            for (index, argument) in runArguments.enumerated() {
                if argument.hasPrefix(name + "=") { return String(argument.dropFirst(name.count + 1)) }
                if argument == name, index + 1 < runArguments.count { return runArguments[index + 1] }
            }
            return nil
        }
        let logging = LoggingOptions(
            logLevel: value("--log-level") ?? "info", logFormat: value("--log-format") ?? "text")
        try logging.settings().bootstrap()
        await NodeSupervisor.run(runArguments: runArguments, logger: Logger(label: "weft.node.supervisor"))
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
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            print(try NodeCommands.installCapture(flags: node.flags, logging: try logging.settings()))
        }
    }

    struct Uninstall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove the capture table; nothing else is touched.")
        @Option(help: "The table's name.") var table = "weft"

        func run() async throws {
            print(try NodeCommands.uninstallCapture(tableName: table))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the capture table as the kernel has it.")
        @Option(help: "The table's name.") var table = "weft"

        func run() async throws {
            guard let contents = try NodeCommands.showCapture(tableName: table) else {
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

    @Option(
        name: .customLong("identity-slice"),
        help: "A slice whose service units are services (repeatable; default system.slice).")
    var identitySlices: [String] = []

    @Flag(help: "Print JSON lines.") var json = false

    func run() async throws {
        let (lines, problems) = try NodeCommands.discover(
            servicesDirectory: servicesDir, identitySlices: identitySlices, json: json)
        for line in lines { print(line) }
        for problem in problems { StandardStream.error.write("weft-node discover: \(problem)\n") }
    }
}
