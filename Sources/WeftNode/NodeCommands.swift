import Logging
import WeftCapture
import WeftCore
import WeftLogging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What each `weft-node` command does, behind its flags: run the node, install, remove or show the capture, and
/// list the services this host runs.
public enum NodeCommands {
    /// `weft-node run`: the node until SIGTERM/SIGINT.
    public static func run(flags: NodeFlags, logging: LoggingSettings) async throws {
        logging.bootstrap()
        let settings = try NodeSettings.load(flags: flags)
        try await NodeAgent(settings: settings).run()
    }

    /// `weft-node capture install`: installs the capture for the settings' node config once (no reconcile) and
    /// returns a one-line summary.
    public static func installCapture(flags: NodeFlags, logging: LoggingSettings) throws -> String {
        logging.bootstrap()
        let capture = try NodeSettings.load(flags: flags).loadPlan().capture
        let controller = try CaptureController(
            configuration: capture, connection: try NftablesConnection(), logger: Logger(label: "weft.node"))
        let installation = try controller.install()
        let table = installation.table
        let took = installation.duration
        let elements = table.sets.reduce(0) { $0 + $1.elements.count }
        return "installed table inet \(capture.tableName): \(table.rules.count) rules, \(table.sets.count) sets, "
            + "\(elements) set elements in \(DurationText.milliseconds(took))"
    }

    /// `weft-node capture uninstall`: removes the capture table; says whether it existed.
    public static func uninstallCapture(tableName: String) throws -> String {
        try NftablesConnection().deleteTable(family: .inet, name: tableName)
            ? "removed table inet \(tableName)" : "table inet \(tableName) was not installed"
    }

    /// `weft-node capture show`: the capture table's chains, rules, sets and elements as the kernel has them, or
    /// nil when not installed.
    public static func showCapture(tableName: String) throws -> String? {
        try NftablesConnection().contents(family: .inet, name: tableName)
    }

    /// `weft-node discover`: one line per service listening on this host (tab-separated, or JSON objects), and
    /// the services.d problems. Services are units in `identitySlices` (empty: system.slice).
    public static func discover(servicesDirectory: String, identitySlices: [String], json: Bool) throws -> (
        lines: [String], problems: [String]
    ) {
        let (overrides, errors) = ServiceOverrideLoader.load(directory: servicesDirectory)
        let rules = CgroupIdentityRules(
            trustedSlices: identitySlices.isEmpty ? CgroupIdentityRules.defaultTrustedSlices : identitySlices)
        let discovery = LocalServiceDiscovery(
            diagnostics: try SocketDiagnostics(), cgroups: try CgroupResolver(), rules: rules)
        let (services, skipped) = try discovery.discover(overrides: overrides)
        let lines = try services.map { service in
            json ? try DiscoveredServiceJSON(service).line() : tabLine(service)
        }
        return (lines, errors.map(\.description) + skipped)
    }

    private static func tabLine(_ service: DiscoveredService) -> String {
        let ports = service.ports.map(String.init).joined(separator: ",")
        return "\(service.namespace)/\(service.name)\tports=\(ports)\tprotocol=\(service.protocol.rawValue)"
            + "\tuid=\(service.uid.map(String.init) ?? "-")\tcgroup=\(service.cgroupPath ?? "-")"
    }
}
