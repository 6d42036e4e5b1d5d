import Logging
import NIOConcurrencyHelpers
import NIOPosix
import WeftCore

/// Owns the node's nftables table: installs it, keeps it as configured, removes it.
///
/// Reconciling is cheap when nothing changed: one generation query. When the ruleset generation moves (anyone
/// committed an nftables change), the table is read back and compared with what was installed; any difference,
/// or a missing table, is repaired by installing it again in one batch.
public final class CaptureController: Sendable {
    private struct State {
        var configuration: CaptureConfiguration
        var installedContents: String?
        var generation: UInt32?
    }

    private let connection: NftablesConnection
    private let state: NIOLockedValueBox<State>
    private let logger: Logger

    public init(configuration: CaptureConfiguration, connection: NftablesConnection, logger: Logger)
        throws(CaptureConfiguration.Error)
    {
        try configuration.validate()
        self.connection = connection
        self.state = NIOLockedValueBox(State(configuration: configuration))
        self.logger = logger
    }

    public var configuration: CaptureConfiguration { state.withLockedValue { $0.configuration } }

    /// What one install wrote, and how long the netlink transaction took.
    public struct Installation: Sendable {
        public var table: NftTable
        public var duration: Duration
    }

    /// Installs (or replaces) the table.
    @discardableResult
    public func install() throws -> Installation {
        try state.withLockedValue { state in
            let table = CaptureRuleset.table(for: state.configuration)
            let started = ContinuousClock.now
            try connection.replace(table)
            let elapsed = ContinuousClock.now - started
            state.installedContents = try connection.contents(family: .inet, name: table.name)
            state.generation = try connection.generation()
            return Installation(table: table, duration: elapsed)
        }
    }

    /// Captures nothing new and keeps connections already redirected working while they drain
    /// (`CaptureRuleset.drainingTable`); `uninstall()` once they are done. Stop reconciling first.
    public func stopCapturing() throws {
        try state.withLockedValue { state in
            try connection.replace(CaptureRuleset.drainingTable(for: state.configuration))
            state.installedContents = nil
            state.generation = nil
        }
    }

    /// Installs `configuration` in place of the current one when it differs (a new node config changed the VIPs or
    /// ports); returns whether it did. An invalid configuration changes nothing.
    @discardableResult
    public func update(_ configuration: CaptureConfiguration) throws -> Bool {
        try configuration.validate()
        let changed = state.withLockedValue { state in
            guard state.configuration != configuration else { return false }
            state.configuration = configuration
            return true
        }
        if changed { try install() }
        return changed
    }

    /// Removes the table; true when it existed.
    @discardableResult
    public func uninstall() throws -> Bool {
        try state.withLockedValue { state in
            state.installedContents = nil
            state.generation = nil
            return try connection.deleteTable(family: .inet, name: state.configuration.tableName)
        }
    }

    /// Renews the DNS lease, so DNS stays captured while this node lives (and reaches the host's resolvers again
    /// once it has stopped renewing). Its own commit is not mistaken for someone else's change.
    public func renewDNSLease() throws {
        try state.withLockedValue { state in
            guard state.configuration.captureDNS, state.installedContents != nil else { return }
            let table = NftTable(family: .inet, name: state.configuration.tableName)
            let lease = CaptureRuleset.dnsLease(for: state.configuration)
            let before = try connection.generation()
            try connection.renew(lease.elements, of: lease, in: table)
            let after = try connection.generation()
            // Only our commit in between: the table is still as installed (or as the last reconcile found it).
            if state.generation == before, after == before &+ 1 { state.generation = after }
        }
    }

    /// Checks the table against what was installed and restores it when it differs; true when it restored.
    public func reconcile() throws -> Bool {
        let (name, expected, known) = state.withLockedValue {
            ($0.configuration.tableName, $0.installedContents, $0.generation)
        }
        guard expected != nil else { return false }
        let generation = try connection.generation()
        guard generation != known else { return false }
        let current = try connection.contents(family: .inet, name: name)
        if current == expected {
            state.withLockedValue { $0.generation = generation }
            return false
        }
        logger.warning(
            "nftables table inet \(name) was \(current == nil ? "deleted" : "changed") by someone else; restoring it",
            metadata: ["generation": "\(generation)"])
        try install()
        return true
    }

    /// Reconciles and renews the DNS lease every `interval` until the task is cancelled; netlink calls run on a
    /// thread pool, never on the caller's executor.
    public func reconcileContinuously(
        every interval: Duration = .milliseconds(500), threadPool: NIOThreadPool = .singleton
    ) async {
        while !Task.isCancelled {
            do {
                try await threadPool.runIfActive {
                    _ = try self.reconcile()
                    try self.renewDNSLease()
                }
            } catch {
                logger.error("capture reconcile failed: \(error)")
            }
            try? await Task.sleep(for: interval)
        }
    }
}
