import ServiceLifecycle

/// Runs a part that stops by being cancelled: an error it throws once weftd is stopping (the gRPC transport's
/// "cancelled", a sleep's CancellationError) is part of stopping, not a failure.
enum StoppingQuietly {
    static func run(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            if Task.isCancelled || Task.isShuttingDownGracefully { return }
            throw error
        }
    }
}
