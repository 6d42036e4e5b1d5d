import ServiceLifecycle
import Synchronization
import WeftCore

/// The node API (mTLS, :15012) and the join listener (server TLS, :15013). Nodes hold their watch streams open
/// for as long as weftd runs, so a stop cancels them (each node reconnects to a replica or waits).
final class NodeAPIListenersService: Service {
    private let server: NodeAPIServer
    private let bound: ReadinessToken<ControlPlaneReadinessName>
    private let listening = Mutex<NodeAPIServer.Listeners?>(nil)

    init(server: NodeAPIServer, bound: ReadinessToken<ControlPlaneReadinessName>) {
        self.server = server
        self.bound = bound
    }

    /// The bound addresses, once listening.
    var listeners: NodeAPIServer.Listeners? { listening.withLock { $0 } }

    func run() async throws {
        try await StoppingQuietly.run {
            try await cancelWhenGracefulShutdown { [self] in
                try await server.run { listeners in
                    self.listening.withLock { $0 = listeners }
                    self.bound.ready()
                }
            }
        }
    }
}
