import Logging
import NIOConcurrencyHelpers
import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Keeps the node a member of the mesh: connects to the control plane with the node certificate, registers the
/// services found on this host (again whenever they change), and watches the node's config; while connected its
/// session serves the certificate refresh. When the control plane is away it retries with backoff (0.5 s doubling
/// to 30 s, with jitter) while the node keeps serving from its last good config.
final class ControlPlaneLink: Sendable {
    private let address: IPSocketAddress
    private let certificates: NodeCertificates
    private let cache: ConfigCache
    private let socketMark: UInt32?
    private let registration: @Sendable () throws -> NodeRegistration
    /// Kept across sessions: a reconnect does not forget what is being held.
    private let hold = NIOLockedValueBox(RegistrationHold(holdTime: .seconds(3)))
    private let onConfig: @Sendable (CompiledNodeConfig, ConfigCache.UpdateSummary) async -> ConfigApplyOutcome
    private let logger: Logger
    private let current: CurrentSession

    init(
        address: IPSocketAddress, certificates: NodeCertificates, cache: ConfigCache, socketMark: UInt32?,
        session: CurrentSession,
        registration: @escaping @Sendable () throws -> NodeRegistration,
        onConfig: @escaping @Sendable (CompiledNodeConfig, ConfigCache.UpdateSummary) async -> ConfigApplyOutcome,
        logger: Logger
    ) {
        self.address = address
        self.certificates = certificates
        self.cache = cache
        self.socketMark = socketMark
        self.registration = registration
        self.current = session
        self.onConfig = onConfig
        self.logger = logger
    }

    /// Runs until cancelled.
    func run() async {
        var backoff = Backoff(base: .milliseconds(500), cap: .seconds(30))
        while !Task.isCancelled {
            let started = ContinuousClock.now
            var failure: (any Error)?
            do {
                try await connectOnce()
            } catch {
                if Task.isCancelled { return }
                failure = error
            }
            // A link that held for a while starts its backoff over.
            if ContinuousClock.now - started > .seconds(30) { backoff.succeeded() }
            let delay = backoff.failed()
            if let failure {
                logger.warning(
                    "control plane link lost; serving from the last good config",
                    metadata: [
                        "controlPlane": "\(address)", "error": "\(failure)",
                        "retryIn": "\(delay)",
                    ])
            }
            try? await Task.sleep(for: delay)
        }
    }

    private struct StreamEnded: Error, CustomStringConvertible {
        var description: String { "the control plane ended the config stream" }
    }

    private func connectOnce() async throws {
        let session = try NodeSession(
            address: address, credentials: await certificates.nodeCredentials, socketMark: socketMark)
        defer { current.value = nil }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await session.run() }
            group.addTask { try await self.maintain(session) }
            group.addTask {
                try await session.watch(cache: self.cache) { config, summary in
                    await self.onConfig(config, summary)
                }
                throw StreamEnded()
            }
            defer {
                session.close()
                group.cancelAll()
            }
            try await group.next()
        }
    }

    /// Registers what runs here whenever it changes (looked at every second), through ``RegistrationHold``.
    private func maintain(_ session: NodeSession) async throws {
        var registered: NodeRegistration?
        var discoveryFailing = false
        while !Task.isCancelled {
            let discovered = Result { try registration() }
            if case .failure(let error) = discovered, !discoveryFailing {
                logger.warning(
                    "service discovery failed; keeping the last registration", metadata: ["error": "\(error)"])
            }
            discoveryFailing = (try? discovered.get()) == nil
            let next = hold.withLockedValue { $0.next(discovered, now: .now) }
            if let current = next, current != registered {
                _ = try await session.register(current, version: WeftVersion.current)
                logger.info(
                    "registered with the control plane",
                    metadata: [
                        "services": "\(current.services.map(\.name.description))", "addresses": "\(current.addresses)",
                    ])
                registered = current
                // Published once the control plane has answered: a session still connecting is not one to act on
                // (the certificate refresh drops what the config no longer lists).
                self.current.value = session
            }
            try await Task.sleep(for: .seconds(1))
        }
    }
}
