import ServiceLifecycle

/// Pushes metrics where the control plane's telemetry settings say, until the node stops.
struct MetricsPushService: Service {
    let pusher: MetricsPusher

    func run() async throws {
        await cancelWhenGracefulShutdown { await pusher.run() }
    }
}
