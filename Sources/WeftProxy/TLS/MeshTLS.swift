import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import WeftCore
import WeftIdentity
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A certificate chain (leaf first) and its private key, both PEM, for one SPIFFE identity.
public struct TLSIdentity: Sendable, Equatable {
    public var identity: SPIFFEID
    public var certificateChainPEM: String
    public var privateKeyPEM: String

    public init(identity: SPIFFEID, certificateChainPEM: String, privateKeyPEM: String) {
        self.identity = identity
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
    }
}

/// What a node's proxy authenticates with: the node's certificate (served on the HBONE port), a certificate per
/// local service (presented when that service calls out), and the trust bundle every peer must chain to.
public struct MeshCredentials: Sendable, Equatable {
    public var trustDomain: String
    public var trustBundlePEM: String
    public var node: TLSIdentity
    public var workloads: [ServiceName: TLSIdentity]

    public init(trustDomain: String, trustBundlePEM: String, node: TLSIdentity, workloads: [ServiceName: TLSIdentity]) {
        self.trustDomain = trustDomain
        self.trustBundlePEM = trustBundlePEM
        self.node = node
        self.workloads = workloads
    }
}

public enum MeshTLSError: Error, CustomStringConvertible, Equatable {
    case invalidCredential(identity: String, reason: String)
    case invalidTrustBundle(String)
    case noWorkloadCertificate(ServiceName)
    case notReady

    public var description: String {
        switch self {
        case .invalidCredential(let identity, let reason):
            "the certificate or key of \(identity) is unusable: \(reason)"
        case .invalidTrustBundle(let reason): "the trust bundle is unusable: \(reason)"
        case .noWorkloadCertificate(let service): "this node holds no certificate for \(service) (yet)"
        case .notReady: "the node has no certificates yet"
        }
    }
}

/// The TLS contexts made from one `MeshCredentials`: TLS 1.3 only, ALPN h2, peers verified against the trust
/// bundle as X509-SVIDs (see `verifyChain`), never by host name.
public final class MeshTLS: Sendable {
    public let credentials: MeshCredentials
    /// Grows with every new set of credentials; pooled connections made with older ones take no new streams.
    public let generation: UInt64
    let serverContext: NIOSSLContext
    let clientContexts: [ServiceName: NIOSSLContext]
    let trustBundle: [Certificate]
    /// Shared by every generation: revocations outlive certificate renewals.
    let revocations: PeerRevocations

    public init(credentials: MeshCredentials, generation: UInt64, revocations: PeerRevocations = PeerRevocations())
        throws(MeshTLSError)
    {
        self.credentials = credentials
        self.generation = generation
        self.revocations = revocations
        do {
            trustBundle = try PEM.certificates(fromPEM: credentials.trustBundlePEM, source: "the trust bundle")
        } catch {
            throw .invalidTrustBundle("\(error)")
        }
        let roots: [NIOSSLCertificate]
        do { roots = try NIOSSLCertificate.fromPEMBytes(Array(credentials.trustBundlePEM.utf8)) } catch {
            throw .invalidTrustBundle("\(error)")
        }
        serverContext = try Self.context(for: credentials.node, roots: roots, server: true)
        var clients: [ServiceName: NIOSSLContext] = [:]
        for (service, identity) in credentials.workloads {
            clients[service] = try Self.context(for: identity, roots: roots, server: false)
        }
        clientContexts = clients
    }

    private static func context(for identity: TLSIdentity, roots: [NIOSSLCertificate], server: Bool)
        throws(MeshTLSError) -> NIOSSLContext
    {
        do {
            let chain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificateChainPEM.utf8)).map {
                NIOSSLCertificateSource.certificate($0)
            }
            let key = try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem)
            var configuration =
                server
                ? TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
                : TLSConfiguration.makeClientConfiguration()
            if !server {
                configuration.certificateChain = chain
                configuration.privateKey = .privateKey(key)
            }
            configuration.minimumTLSVersion = .tlsv13
            configuration.applicationProtocols = ["h2"]
            // Requests the peer's certificate; the check itself is `verification(expecting:)`.
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(roots)
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw .invalidCredential(identity: identity.identity.description, reason: "\(error)")
        }
    }

    func clientContext(for service: ServiceName) throws(MeshTLSError) -> NIOSSLContext {
        guard let context = clientContexts[service] else { throw .noWorkloadCertificate(service) }
        return context
    }

    /// A verification callback for one handshake: the peer's chain must lead to the trust bundle and name one
    /// SPIFFE ID of this trust domain (and be `expected`, when given), and its leaf must not be revoked. `outcome`
    /// learns the peer or the reason.
    func verification(
        expecting expected: SPIFFEID?, outcome: @escaping @Sendable (Result<VerifiedPeer, PeerRejection>) -> Void
    ) -> NIOSSLCustomVerificationCallback {
        let bundle = trustBundle
        let trustDomain = credentials.trustDomain
        let revocations = self.revocations
        return { presented, promise in
            let chain: [Certificate]
            do {
                chain = try presented.map { try Certificate(derEncoded: $0.toDERBytes()) }
            } catch {
                outcome(.failure(PeerRejection(reason: "the peer's certificate cannot be parsed: \(error)")))
                promise.succeed(.failed)
                return
            }
            Task {
                do throws(PeerVerificationError) {
                    let identity = try await verifyChain(
                        leafAndIntermediates: chain, trustBundle: bundle, trustDomain: trustDomain)
                    let serial = chain[0].serialHex
                    if let expected, identity != expected {
                        outcome(.failure(PeerRejection(reason: "the peer is \(identity), expected \(expected)")))
                        promise.succeed(.failed)
                    } else if revocations.isRevoked(serial) {
                        outcome(
                            .failure(
                                PeerRejection(reason: "the certificate of \(identity) (serial \(serial)) is revoked")))
                        promise.succeed(.failed)
                    } else {
                        outcome(.success(VerifiedPeer(identity: identity, serial: serial)))
                        promise.succeed(.certificateVerified)
                    }
                } catch {
                    outcome(.failure(PeerRejection(reason: error.description)))
                    promise.succeed(.failed)
                }
            }
        }
    }
}

/// A peer whose certificate passed the handshake's checks.
struct VerifiedPeer: Sendable {
    var identity: SPIFFEID
    /// Its leaf's serial number (hex), followed for revocation.
    var serial: String
}

/// Why a peer's certificate was refused during a handshake.
public struct PeerRejection: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}

/// The credentials in use, replaced whole when certificates are renewed; open connections keep the ones they were
/// made with.
///
/// A local process may call out before its service has a certificate (a client that listens on nothing is known
/// only once it connects): `workloadCertificate(for:)` asks the node for one through `onMissingWorkload` and waits.
public final class MeshTLSStore: Sendable {
    private struct State {
        var current: MeshTLS?
        var waiters: [ServiceName: [EventLoopPromise<MeshTLS>]] = [:]
    }

    private let state = NIOLockedValueBox(State())
    private let onMissingWorkload: @Sendable (ServiceName) -> Void
    /// The revoked certificates, for every generation of credentials.
    public let revocations = PeerRevocations()

    public init(onMissingWorkload: @escaping @Sendable (ServiceName) -> Void = { _ in }) {
        self.onMissingWorkload = onMissingWorkload
    }

    public var current: MeshTLS? { state.withLockedValue { $0.current } }

    /// Builds contexts from `credentials` and makes them current; on error the previous ones stay.
    public func update(_ credentials: MeshCredentials) throws(MeshTLSError) {
        let generation = (current?.generation ?? 0) + 1
        let made = try MeshTLS(credentials: credentials, generation: generation, revocations: revocations)
        let ready = state.withLockedValue { state in
            state.current = made
            var ready: [EventLoopPromise<MeshTLS>] = []
            for service in state.waiters.keys where made.clientContexts[service] != nil {
                ready += state.waiters.removeValue(forKey: service) ?? []
            }
            return ready
        }
        for promise in ready { promise.succeed(made) }
    }

    /// Credentials holding a certificate for `service`: at once when present, else once the node has obtained one
    /// (failing with `noWorkloadCertificate` after `timeout`).
    public func workloadCertificate(
        for service: ServiceName, on eventLoop: any EventLoop, timeout: TimeAmount = .seconds(5)
    )
        -> EventLoopFuture<MeshTLS>
    {
        let promise = eventLoop.makePromise(of: MeshTLS.self)
        let present = state.withLockedValue { state -> MeshTLS? in
            if let current = state.current, current.clientContexts[service] != nil { return current }
            state.waiters[service, default: []].append(promise)
            return nil
        }
        if let present {
            promise.succeed(present)
            return promise.futureResult
        }
        onMissingWorkload(service)
        let deadline = eventLoop.scheduleTask(in: timeout) {
            let waiting = self.state.withLockedValue { state in
                let before = state.waiters[service]?.count ?? 0
                state.waiters[service]?.removeAll { $0.futureResult === promise.futureResult }
                if state.waiters[service]?.isEmpty == true { state.waiters[service] = nil }
                return before != (state.waiters[service]?.count ?? 0)
            }
            if waiting { promise.fail(MeshTLSError.noWorkloadCertificate(service)) }
        }
        promise.futureResult.whenComplete { _ in deadline.cancel() }
        return promise.futureResult
    }
}
