import ServiceLifecycle
import WeftCore

/// The admin API (:15443); a stop lets requests in progress finish.
struct AdminAPIService: Service {
    let server: AdminServer
    let bound: ReadinessToken<ControlPlaneReadinessName>

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await server.run() }
                _ = try await server.listeningPort()
                bound.ready()
                try await group.next()
            }
        }
    }
}
