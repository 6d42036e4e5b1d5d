import Logging
import WeftCapture
import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One-shot operations of `weft-node`: capture install, uninstall and show, and local service discovery.
public enum NodeTools {
    /// Installs the capture for the settings' node config and returns a one-line summary.
    public static func installCapture(_ settings: NodeSettings, logger: Logger) throws -> String {
        let capture = try settings.loadPlan().capture
        let controller = try CaptureController(
            configuration: capture, connection: try NftablesConnection(), logger: logger)
        let installation = try controller.install()
        let table = installation.table
        let took = installation.duration
        let elements = table.sets.reduce(0) { $0 + $1.elements.count }
        return "installed table inet \(capture.tableName): \(table.rules.count) rules, \(table.sets.count) sets, "
            + "\(elements) set elements in \(DurationText.milliseconds(took))"
    }

    /// Removes the capture table; true when it existed.
    public static func uninstallCapture(tableName: String) throws -> Bool {
        try NftablesConnection().deleteTable(family: .inet, name: tableName)
    }

    /// The capture table's chains, rules, sets and elements as the kernel has them, or nil when not installed.
    public static func showCapture(tableName: String) throws -> String? {
        try NftablesConnection().contents(family: .inet, name: tableName)
    }

    /// Services listening on this host, and services.d problems.
    public static func discover(servicesDirectory: String) throws -> (services: [DiscoveredService], problems: [String])
    {
        let (overrides, errors) = ServiceOverrideLoader.load(directory: servicesDirectory)
        let discovery = LocalServiceDiscovery(diagnostics: try SocketDiagnostics(), cgroups: try CgroupResolver())
        let (services, skipped) = try discovery.discover(overrides: overrides)
        return (services, errors.map(\.description) + skipped)
    }
}
