import Foundation
import WeftAPI
import WeftCore
import WeftNode

/// A node as the tests drive it: joined through the real join listener, connected with mTLS to the node
/// listener, watching its config with the same `ConfigCache` weft-node uses.
final class WatchingNode: Sendable {
    typealias Update = (config: CompiledNodeConfig, summary: ConfigCache.UpdateSummary)

    let session: NodeSession
    let cache: ConfigCache
    let updates: AsyncStream<Update>
    let tasks: [Task<Void, any Error>]
    let credentials: NodeCredentials

    static func join(_ control: RunningControlPlane, name: String) async throws -> NodeCredentials {
        let token = try await control.joinToken(for: name)
        return try await ControlPlaneJoin.join(address: control.ready.joinListener, token: token, nodeName: name)
    }

    /// Connects (without watching yet).
    static func connect(_ control: RunningControlPlane, credentials: NodeCredentials) throws -> (
        NodeSession, Task<Void, any Error>
    ) {
        let session = try NodeSession(address: control.ready.nodeListener, credentials: credentials)
        return (session, Task { try await session.run() })
    }

    init(control: RunningControlPlane, credentials: NodeCredentials, cache: ConfigCache = ConfigCache()) throws {
        let (session, runTask) = try Self.connect(control, credentials: credentials)
        let (stream, continuation) = AsyncStream.makeStream(of: Update.self)
        let watchTask = Task {
            defer { continuation.finish() }
            try await session.watch(cache: cache) { config, summary in
                continuation.yield((config, summary))
                return .applied
            }
        }
        self.session = session
        self.credentials = credentials
        self.cache = cache
        self.updates = stream
        self.tasks = [runTask, watchTask]
    }

    /// The next config update that satisfies `predicate`, or an error after `timeout`.
    func next(within timeout: Duration = .seconds(5), where predicate: @escaping @Sendable (Update) -> Bool)
        async throws -> Update
    {
        let updates = self.updates
        return try await withThrowingTaskGroup(of: Update?.self) { group in
            group.addTask {
                for await update in updates where predicate(update) { return update }
                return nil
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let update = first else {
                throw RunningControlPlane.FixtureError("no matching config update within \(timeout)")
            }
            return update
        }
    }

    func stop() async {
        session.close()
        for task in tasks {
            task.cancel()
            _ = try? await task.value
        }
    }

    /// Registers `services` (name → endpoints) from this node.
    @discardableResult
    func register(_ services: [String: [String]], protocol proto: String = "tcp") async throws -> Int64 {
        let list: [Weft_Node_V1_RegisteredService] = services.map { name, endpoints in
            var service = Weft_Node_V1_RegisteredService()
            service.name = name
            service.protocol = proto
            service.endpoints = endpoints.map { text in
                let address = IPSocketAddress(text)!
                var endpoint = Weft_Node_V1_Endpoint()
                endpoint.address = address.address.description
                endpoint.port = UInt32(address.port)
                endpoint.healthy = true
                return endpoint
            }
            return service
        }
        let addresses = Set(services.values.joined().compactMap { IPSocketAddress($0)?.address })
        var request = Weft_Node_V1_RegisterRequest()
        request.addresses = addresses.map(\.description)
        request.version = "test"
        request.services = list
        return try await session.register(request)
    }
}
