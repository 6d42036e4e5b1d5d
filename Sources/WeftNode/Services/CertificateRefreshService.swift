import ServiceLifecycle
import WeftCore
import WeftProxy

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Keeps the node's certificates current while the control plane is reachable: every second, and soon after a
/// config is applied (`requestRefresh`; it may bring new local services), in its own task so a slow or hung
/// certificate request never holds up a config. The `certificates` readiness is pending while a local service has
/// no certificate. Each tick also sets `weft_certificate_expiry_seconds`.
struct CertificateRefreshService: Service {
    let certificates: NodeCertificates
    let session: CurrentSession
    let tls: MeshTLSStore
    let localServices: @Sendable () -> Set<ServiceName>
    let held: NodeReadinessToken
    let expiry: CertificateExpiryMetric
    private let wakeUps: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(
        certificates: NodeCertificates, session: CurrentSession, tls: MeshTLSStore,
        localServices: @escaping @Sendable () -> Set<ServiceName>, held: NodeReadinessToken,
        expiry: CertificateExpiryMetric
    ) {
        self.certificates = certificates
        self.session = session
        self.tls = tls
        self.localServices = localServices
        self.held = held
        self.expiry = expiry
        (wakeUps, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    while !Task.isCancelled {
                        wake.yield()
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
                for await _ in wakeUps { await refreshNow() }
                group.cancelAll()
            }
        }
    }

    /// Asks for a refresh soon, without waiting for it (requests while one runs become one more).
    func requestRefresh() {
        wake.yield()
    }

    /// Obtains what is missing or due, if connected, and updates the readiness.
    func refreshNow() async {
        let local = localServices()
        if let session = session.value {
            await certificates.refresh(localServices: local, session: session)
        }
        let services = await certificates.services
        held.set(ready: tls.current != nil && local.isSubset(of: services))
        expiry.update(await certificates.validities(), now: Date())
    }
}
