import Logging
import ServiceLifecycle

/// Says "weft-node ready" in the log once the node serves captured traffic: its listeners are bound and the
/// capture is installed. (Config and certificates may still follow; `/readyz` tells.)
struct ReadyAnnouncement: Service {
    let readiness: NodeReadiness
    let logger: Logger
    let metadata: Logger.Metadata

    func run() async throws {
        await readiness.waitUntilReady(.listeners)
        await readiness.waitUntilReady(.capture)
        if !Task.isCancelled { logger.info("weft-node ready", metadata: metadata) }
        _ = await StopRequest.next()
    }
}
