import ServiceLifecycle
import WeftCore
import WeftProxy

/// Keeps the node's certificates current while the control plane is reachable: every second, and at once after a
/// config is applied (it may bring new local services). The `certificates` readiness is pending while a local
/// service has no certificate.
struct CertificateRefreshService: Service {
    let certificates: NodeCertificates
    let session: CurrentSession
    let tls: MeshTLSStore
    let localServices: @Sendable () -> Set<ServiceName>
    let held: NodeReadinessToken

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await refreshNow()
                try? await Task.sleep(for: .seconds(1))
            }
        }
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
