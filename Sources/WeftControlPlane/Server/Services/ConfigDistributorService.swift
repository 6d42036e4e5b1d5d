import ServiceLifecycle

/// Compiles each change of the store into per-node config and hands it to the watching nodes, until weftd stops.
struct ConfigDistributorService: Service {
    let distributor: ConfigDistributor
    let heartbeatInterval: Duration

    func run() async throws {
        try await StoppingQuietly.run {
            try await cancelWhenGracefulShutdown { try await distributor.run(heartbeatInterval: heartbeatInterval) }
        }
    }
}
