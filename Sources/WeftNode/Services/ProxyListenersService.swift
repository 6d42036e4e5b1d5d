import Logging
import ServiceLifecycle
import WeftProxy

/// The proxy's listeners (outbound :15001, inbound plaintext :15006, HBONE :15008). On a graceful stop they stop
/// accepting and let open connections finish up to the drain timeout, then close what is left and their sockets;
/// on cancellation they close at once.
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
            await close()
            throw error
        }
        bound.ready()
        let request = await StopRequest.next()
        // The sockets close only after the drain: NIO closes a connection still being set up when its listening
        // channel closes, and the drain counts those from their accept.
        await outbound.stopAccepting()
        await inboundPlaintext.stopAccepting()
        await hbone?.stopAccepting()
        if request == .graceful, !live.isIdle {
            logger.info("draining", metadata: ["connections": "\(live.count)", "timeout": "\(drainTimeout)"])
            let drained = await live.drain(
                timeout: drainTimeout, reason: "the node stopped (drain timeout \(drainTimeout))")
            if !drained { logger.warning("drain timeout: closed the connections still open") }
        }
        await close()
    }

    private func close() async {
        await outbound.shutdown()
        await inboundPlaintext.shutdown()
        await hbone?.shutdown()
    }
}
