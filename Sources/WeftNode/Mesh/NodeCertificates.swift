import Logging
import WeftCore
import WeftIdentity
import WeftProxy
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The node's certificates: its node certificate (served on the HBONE port) and one workload certificate per local
/// service, each key made here. Renewed at half life; every change goes to the proxy (new connections use it, open
/// ones keep theirs, so none drops) and to the state directory.
public actor NodeCertificates {
    private var credentials: NodeCredentials
    private var workloads: [ServiceName: TLSIdentity]
    private let tls: MeshTLSStore
    private let stateDirectory: NodeStateDirectory
    private let logger: Logger
    private var refreshing = false
    /// Each held chain's validity (nil: unreadable), so the refresh that runs every second parses a certificate once.
    private var parsed: [String: CertificateValidity?] = [:]
    /// Identities whose last request failed: not asked for again before their time (0.5 s doubling to 30 s).
    private var retries: [SPIFFEID: (backoff: Backoff, notBefore: Date)] = [:]

    public init(credentials: NodeCredentials, stateDirectory: NodeStateDirectory, tls: MeshTLSStore, logger: Logger) {
        self.credentials = credentials
        self.stateDirectory = stateDirectory
        self.tls = tls
        self.logger = logger
        var workloads: [ServiceName: TLSIdentity] = [:]
        for (key, stored) in (try? stateDirectory.loadWorkloads()) ?? [:] {
            guard let identity = try? SPIFFEID(parsing: stored.identity),
                case .workload(let namespace, let name) = identity.kind,
                "\(namespace)/\(name)" == key
            else { continue }
            workloads[ServiceName(namespace: namespace, name: name)] = TLSIdentity(
                identity: identity, certificateChainPEM: stored.certificateChainPEM, privateKeyPEM: stored.privateKeyPEM
            )
        }
        self.workloads = workloads
    }

    public var nodeCredentials: NodeCredentials { credentials }

    /// Services that have a certificate now.
    public var services: Set<ServiceName> { Set(workloads.keys) }

    /// Every held certificate's validity, the node's first; unreadable ones are left out (and renewed).
    public func validities() -> [CertificateValidity] {
        allIdentities.compactMap { validity(of: $0) }
    }

    /// What /certs shows: every identity with its validity.
    public func summary() -> [[String: String]] {
        allIdentities.map { identity in
            var row = ["identity": identity.identity.description]
            if let leaf = Self.leaf(identity.certificateChainPEM) {
                row["not_before"] = Date.ISO8601FormatStyle().format(leaf.notValidBefore)
                row["not_after"] = Date.ISO8601FormatStyle().format(leaf.notValidAfter)
                row["serial"] = leaf.serialNumber.description
            }
            return row
        }
    }

    private var allIdentities: [TLSIdentity] {
        [nodeIdentity] + workloads.sorted { $0.key < $1.key }.map(\.value)
    }

    private var nodeIdentity: TLSIdentity {
        TLSIdentity(
            identity: SPIFFEID.node(trustDomain: credentials.trustDomain, name: credentials.nodeName),
            certificateChainPEM: credentials.certificateChainPEM, privateKeyPEM: credentials.privateKeyPEM)
    }

    /// Makes the current credentials the proxy's, with `trustBundlePEM` when the config brings a newer bundle.
    public func publish(trustBundlePEM: String? = nil) throws(MeshTLSError) {
        if let trustBundlePEM, trustBundlePEM != credentials.trustBundlePEM {
            credentials.trustBundlePEM = trustBundlePEM
            persistCredentials()
        }
        let credentials = MeshCredentials(
            trustDomain: credentials.trustDomain, trustBundlePEM: credentials.trustBundlePEM, node: nodeIdentity,
            workloads: workloads)
        // Unchanged credentials keep the TLS generation, so pooled tunnels stay usable across config versions.
        guard tls.current?.credentials != credentials else { return }
        try tls.update(credentials)
    }

    /// Obtains certificates for local services that have none or are past half life, renews the node certificate
    /// past half life, and drops certificates of services no longer on this node. Returns true when anything changed.
    @discardableResult
    public func refresh(localServices: Set<ServiceName>, session: NodeSession, now: Date = Date()) async -> Bool {
        // One refresh at a time (the actor is re-entered while a certificate request is out): a second caller
        // leaves it to the running one, and the next tick sees anything still missing.
        guard !refreshing else { return false }
        refreshing = true
        defer { refreshing = false }
        var changed = false
        if isDue(nodeIdentity, now: now) {
            let identity = SPIFFEID.node(trustDomain: credentials.trustDomain, name: credentials.nodeName)
            if let renewed = await issue(identity, session: session, now: now) {
                credentials.certificateChainPEM = renewed.certificateChainPEM
                credentials.privateKeyPEM = renewed.privateKeyPEM
                persistCredentials()
                changed = true
            }
        }
        for service in localServices.sorted() {
            if let held = workloads[service], !isDue(held, now: now) { continue }
            let identity = SPIFFEID.workload(
                trustDomain: credentials.trustDomain, namespace: service.namespace, service: service.name)
            if let issued = await issue(identity, session: session, now: now) {
                workloads[service] = issued
                changed = true
            }
        }
        for service in workloads.keys where !localServices.contains(service) {
            workloads[service] = nil
            changed = true
        }
        guard changed else { return false }
        let held = Set([credentials.certificateChainPEM] + workloads.values.map(\.certificateChainPEM))
        parsed = parsed.filter { held.contains($0.key) }
        do { try stateDirectory.saveWorkloads(workloads) } catch { logger.error("\(error)") }
        do { try publish() } catch { logger.error("renewed certificates are unusable: \(error)") }
        return true
    }

    /// Forgets the workload certificates whose serial is in `serials`, so the next refresh replaces them at once
    /// (every peer refuses them now). Returns the identities forgotten.
    @discardableResult
    public func forgetRevoked(_ serials: Set<String>) -> [SPIFFEID] {
        guard !serials.isEmpty else { return [] }
        var forgotten: [SPIFFEID] = []
        for (service, held) in workloads {
            guard let serial = Self.leaf(held.certificateChainPEM)?.serialHex, serials.contains(serial) else {
                continue
            }
            workloads[service] = nil
            retries[held.identity] = nil
            forgotten.append(held.identity)
        }
        if let serial = Self.leaf(credentials.certificateChainPEM)?.serialHex, serials.contains(serial) {
            logger.critical(
                "this node's own certificate (serial \(serial)) was revoked: the control plane refuses it; join again with a new token"
            )
        }
        if !forgotten.isEmpty {
            logger.warning("revoked certificates dropped, renewing", metadata: ["identities": "\(forgotten)"])
        }
        return forgotten
    }

    private func issue(_ identity: SPIFFEID, session: NodeSession, now: Date) async -> TLSIdentity? {
        if let retry = retries[identity], now < retry.notBefore { return nil }
        do {
            let request = try CertificateRequestFactory.make(for: identity)
            let (chain, notAfter) = try await session.signCertificate(identity: identity, csrPEM: request.csrPEM)
            logger.info("certificate issued", metadata: ["identity": "\(identity)", "notAfter": "\(notAfter)"])
            retries[identity] = nil
            return TLSIdentity(identity: identity, certificateChainPEM: chain, privateKeyPEM: request.privateKeyPEM)
        } catch {
            var backoff = retries[identity]?.backoff ?? Backoff(base: .milliseconds(500), cap: .seconds(30))
            let delay = backoff.failed()
            retries[identity] = (
                backoff,
                now.addingTimeInterval(delay.timeInterval)
            )
            logger.warning("cannot obtain a certificate for \(identity): \(error)", metadata: ["retryIn": "\(delay)"])
            return nil
        }
    }

    private func persistCredentials() {
        do { try stateDirectory.save(credentials) } catch { logger.error("\(error)") }
    }

    /// True when the leaf is past half its lifetime (or unreadable).
    private func isDue(_ held: TLSIdentity, now: Date) -> Bool {
        guard let validity = validity(of: held) else { return true }
        return now >= validity.halfLife
    }

    private func validity(of held: TLSIdentity) -> CertificateValidity? {
        if let known = parsed[held.certificateChainPEM] { return known }
        let validity = Self.leaf(held.certificateChainPEM).map {
            CertificateValidity(identity: held.identity, notBefore: $0.notValidBefore, notAfter: $0.notValidAfter)
        }
        parsed[held.certificateChainPEM] = validity
        return validity
    }

    static func leaf(_ chainPEM: String) -> Certificate? {
        (try? PEM.certificates(fromPEM: chainPEM, source: "certificate"))?.first
    }
}
