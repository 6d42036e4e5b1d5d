import ServiceLifecycle

/// How a service was asked to stop.
enum StopRequest: Sendable, Equatable {
    /// SIGTERM/SIGINT or another service's orderly end: finish what is running (drain).
    case graceful
    /// The group is cancelled (a service failed): stop at once.
    case cancelled

    /// Waits until the service group asks this service to stop.
    static func next() async -> StopRequest {
        do {
            try await gracefulShutdown()
            return .graceful
        } catch {
            return .cancelled
        }
    }
}
