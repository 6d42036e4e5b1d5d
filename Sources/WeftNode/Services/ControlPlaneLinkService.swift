import ServiceLifecycle

/// Follows the control plane (registration and the config stream) until the node stops.
struct ControlPlaneLinkService: Service {
    let link: ControlPlaneLink

    func run() async throws {
        await cancelWhenGracefulShutdown { await link.run() }
    }
}
