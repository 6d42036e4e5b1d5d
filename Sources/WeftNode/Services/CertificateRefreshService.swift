import ServiceLifecycle
import WeftCore
import WeftProxy

/// Keeps the node's certificates current while the control plane is reachable: every second, and soon after a
/// config is applied (`requestRefresh`; it may bring new local services), in its own task so a slow or hung
/// certificate request never holds up a config. The `certificates` readiness is pending while a local service has
/// no certificate.
struct CertificateRefreshService: Service {
    let certificates: NodeCertificates
    let session: CurrentSession
    let tls: MeshTLSStore
    let localServices: @Sendable () -> Set<ServiceName>
    let held: NodeReadinessToken
    private let wakeUps: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(
        certificates: NodeCertificates, session: CurrentSession, tls: MeshTLSStore,
        localServices: @escaping @Sendable () -> Set<ServiceName>, held: NodeReadinessToken
    ) {
        self.certificates = certificates
        self.session = session
        self.tls = tls
        self.localServices = localServices
        self.held = held
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
    }
}
