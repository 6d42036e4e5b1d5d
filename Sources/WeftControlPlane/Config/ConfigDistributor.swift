import Foundation
import Logging
import Synchronization
import WeftCore

/// Follows the store and keeps the compiled mesh current; node config streams wait on it for new revisions and
/// take from it the difference to what their node holds.
///
/// A change reaches nodes like this: the store commits and notifies (LISTEN/NOTIFY across replicas) → `run` reads
/// `changes(since:)` → `MeshState` applies it and names what is dirty → `CompiledMesh` re-encodes only that →
/// every waiting stream is woken and sends its node only the resources whose versions changed.
public final class ConfigDistributor: Sendable, NodeStatusSource {
    let registry: Registry
    let logger: Logger
    /// How many compiled revisions' shared deltas are kept for streams that fall behind.
    static let historyLimit = 256

    struct Inner {
        var state = MeshState()
        var mesh: CompiledMesh?
        var history: [CompiledMesh.SharedDelta] = []
        var waiters: [UInt64: AsyncStream<Int64>.Continuation] = [:]
        var nextWaiter: UInt64 = 0
        var statuses: [String: NodeStreamStatus] = [:]
        var connected: [String: Int] = [:]
        /// When each connected node that sends heartbeats last sent one.
        var lastHeard: [String: Date] = [:]
    }

    let inner = Mutex(Inner())

    public init(registry: Registry, logger: Logger) {
        self.registry = registry
        self.logger = logger
    }

    /// Loads the whole registry, then follows the store until cancelled. Also flushes which nodes are connected
    /// as heartbeats and marks silent nodes down.
    public func run(heartbeatInterval: Duration = .seconds(5)) async throws {
        let notifications = registry.store.notifications()
        try await refresh()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in notifications {
                    do { try await self.refresh() } catch {
                        self.logger.error("reading the store's changes failed", metadata: ["error": "\(error)"])
                    }
                }
            }
            group.addTask {
                // Polling as well covers a missed notification (e.g. while a LISTEN connection was re-made).
                while !Task.isCancelled {
                    try await Task.sleep(for: heartbeatInterval)
                    await self.flushHeartbeats()
                    try? await self.refresh()
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Reads what changed since the compiled revision and publishes a new compiled mesh if it shapes config.
    func refresh() async throws {
        let since = inner.withLock { $0.state.revision }
        let feed = try await registry.store.changes(since: since)
        guard feed.revision != since else { return }
        var newlyUndecodable: [UndecodableRecord] = []
        let published: Int64? = try inner.withLock { inner in
            // Another refresh may have applied a newer feed meanwhile.
            guard feed.revision > inner.state.revision else { return nil }
            var state = inner.state
            let dirty = state.apply(feed)
            newlyUndecodable = state.undecodable.filter { inner.state.undecodable[$0.key] != $0.value }.values
                .sorted(by: Self.byKindAndName)
            inner.state = state
            guard inner.mesh == nil || !dirty.isEmpty else { return nil }
            let mesh = try CompiledMesh(
                state: state, dirty: dirty, previous: inner.mesh, trustBundlePEM: registry.authority.trustBundlePEM,
                trustDomain: registry.configuration.trustDomain, vipRange: registry.configuration.vipRange,
                now: registry.now()
            )
            inner.mesh = mesh
            inner.history.append(mesh.sharedDelta)
            if inner.history.count > Self.historyLimit {
                inner.history.removeFirst(inner.history.count - Self.historyLimit)
            }
            for waiter in inner.waiters.values { waiter.yield(mesh.revision) }
            return mesh.revision
        }
        for record in newlyUndecodable {
            logger.error(
                "a stored record cannot be decoded; config goes out without it",
                metadata: ["kind": "\(record.kind)", "name": "\(record.name)", "reason": "\(record.reason)"])
        }
        if let published { logger.debug("config compiled", metadata: ["revision": "\(published)"]) }
    }

    var current: CompiledMesh? { inner.withLock { $0.mesh } }

    public func undecodableRecords() -> [UndecodableRecord] {
        inner.withLock { Array($0.state.undecodable.values) }.sorted(by: Self.byKindAndName)
    }

    private static func byKindAndName(_ a: UndecodableRecord, _ b: UndecodableRecord) -> Bool {
        (a.kind, a.name) < (b.kind, b.name)
    }

    /// A stream that yields whenever a new compiled revision is published (only the newest is buffered).
    func waitForRevisions() -> (id: UInt64, stream: AsyncStream<Int64>) {
        let (stream, continuation) = AsyncStream.makeStream(of: Int64.self, bufferingPolicy: .bufferingNewest(1))
        let id = inner.withLock { inner in
            let id = inner.nextWaiter
            inner.nextWaiter += 1
            inner.waiters[id] = continuation
            if let mesh = inner.mesh { continuation.yield(mesh.revision) }
            return id
        }
        return (id, stream)
    }

    func stopWaiting(_ id: UInt64) {
        inner.withLock { $0.waiters.removeValue(forKey: id) }?.finish()
    }

    /// The shared resources changed between two compiled revisions, chaining the kept deltas; nil when the
    /// history does not reach back to `from`.
    func sharedDelta(from: Int64, to: Int64) -> (changed: [String: ConfigResource], removed: Set<String>)? {
        guard from != to else { return ([:], []) }
        return inner.withLock { inner in
            guard let start = inner.history.firstIndex(where: { $0.from == from }) else { return nil }
            var changed: [String: ConfigResource] = [:]
            var removed = Set<String>()
            var at = from
            for delta in inner.history[start...] {
                guard delta.from == at else { return nil }
                for resource in delta.changed {
                    changed[resource.name] = resource
                    removed.remove(resource.name)
                }
                for name in delta.removed {
                    changed[name] = nil
                    removed.insert(name)
                }
                at = delta.to
                if at == to { return (changed, removed) }
            }
            return nil
        }
    }

    // MARK: Node stream status

    /// `sendsHeartbeats`: the node said it sends them (older nodes do not: their open stream counts as alive).
    func streamOpened(node: String, sendsHeartbeats: Bool) {
        inner.withLock { inner in
            inner.connected[node, default: 0] += 1
            if sendsHeartbeats { inner.lastHeard[node] = Date() }
            var status = inner.statuses[node] ?? NodeStreamStatus(node: node, connected: true, lastChange: Date())
            status.connected = true
            status.lastChange = Date()
            inner.statuses[node] = status
        }
    }

    func streamClosed(node: String) {
        inner.withLock { inner in
            inner.connected[node, default: 1] -= 1
            if inner.connected[node] == 0 {
                inner.connected[node] = nil
                inner.lastHeard[node] = nil
                inner.statuses[node]?.connected = false
                inner.statuses[node]?.lastChange = Date()
            }
        }
    }

    /// A heartbeat from `node`'s stream.
    func heard(node: String) {
        inner.withLock { $0.lastHeard[node] = Date() }
    }

    func recordSent(node: String, version: UInt64) {
        inner.withLock { $0.statuses[node]?.sentVersion = version }
    }

    func recordAck(node: String, version: UInt64) {
        inner.withLock { inner in
            inner.statuses[node]?.ackedVersion = version
            inner.statuses[node]?.lastChange = Date()
        }
    }

    func recordNack(node: String, version: UInt64, reason: String) {
        inner.withLock { inner in
            inner.statuses[node]?.nackedVersion = version
            inner.statuses[node]?.nackReason = reason
            inner.statuses[node]?.lastChange = Date()
        }
        logger.warning(
            "node refused config", metadata: ["node": "\(node)", "version": "\(version)", "reason": "\(reason)"])
    }

    public func nodeStreamStatus() -> [NodeStreamStatus] {
        inner.withLock { Array($0.statuses.values) }.sorted { $0.node < $1.node }
    }

    /// Records when each node with an open stream was last heard (a node that sends no heartbeats, from an older
    /// version, counts as seen now), and lets the registry mark silent nodes down.
    func flushHeartbeats() async {
        let now = Date()
        let seen = inner.withLock { inner in
            Dictionary(uniqueKeysWithValues: inner.connected.keys.map { ($0, inner.lastHeard[$0] ?? now) })
        }
        do {
            try await registry.recordSeen(seen)
            let changed = try await registry.refreshNodeStatus()
            if !changed.isEmpty { logger.info("node status changed", metadata: ["nodes": "\(changed)"]) }
        } catch {
            logger.error("recording node heartbeats failed", metadata: ["error": "\(error)"])
        }
    }
}
