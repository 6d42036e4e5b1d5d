import ServiceLifecycle

/// Serves the node admin endpoint (:15020) from the first moment to the last, so `/readyz` can say what is pending
/// while the node starts and drains.
struct NodeAdminService: Service {
    let server: NodeAdminServer

    func run() async throws {
        try await server.start()
        _ = await StopRequest.next()
        await server.shutdown()
    }
}
