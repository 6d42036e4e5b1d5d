import ServiceLifecycle
import WeftCapture

/// The node's resolver for `*.weft` names (:15053); its listeners count towards the `listeners` readiness, so the
/// capture redirects port 53 only once it answers.
struct DNSService: Service {
    let resolver: DNSResolver
    let bound: NodeReadinessToken

    func run() async throws {
        try await resolver.start()
        bound.ready()
        _ = await StopRequest.next()
        await resolver.shutdown()
    }
}
