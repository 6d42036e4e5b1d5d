import Logging
import ServiceLifecycle
import WeftProxy

/// The proxy's listeners (outbound :15001, inbound plaintext :15006, HBONE :15008). On a graceful stop they stop
/// accepting and let open connections finish up to the drain timeout, then close what is left; on cancellation
/// they close at once.
struct ProxyListenersService: Service {
    let outbound: CaptureListener
    let inboundPlaintext: CaptureListener
    let hbone: HBONEServer?
    let live: LiveConnections
    let drainTimeout: Duration
    let bound: NodeReadinessToken
    let logger: Logger

    func run() async throws {
        do {
            try await outbound.start()
            try await inboundPlaintext.start()
            try await hbone?.start()
        } catch {
            await stopAccepting()
            throw error
        }
        bound.ready()
        let request = await StopRequest.next()
        await stopAccepting()
        guard request == .graceful, !live.isIdle else { return }
        logger.info("draining", metadata: ["connections": "\(live.count)", "timeout": "\(drainTimeout)"])
        let drained = await live.drain(
            timeout: drainTimeout, reason: "the node stopped (drain timeout \(drainTimeout))")
        if !drained { logger.warning("drain timeout: closed the connections still open") }
    }

    private func stopAccepting() async {
        await outbound.shutdown()
        await inboundPlaintext.shutdown()
        await hbone?.shutdown()
    }
}
