import NIOConcurrencyHelpers
import NIOEmbedded
import Testing
import WeftCore

@testable import WeftProxy

@Suite struct LiveConnectionsTests {
    /// Registers a connection that records the reasons it was closed with.
    private func add(_ live: LiveConnections, _ source: ServiceName?, _ destination: ServiceName)
        -> (closedWith: @Sendable () -> [String], remove: @Sendable () -> Void)
    {
        let reasons = NIOLockedValueBox<[String]>([])
        let remove = live.add(
            LiveConnections.Entry(source: source, destination: destination) { reason in
                reasons.withLockedValue { $0.append(reason) }
            })
        return ({ reasons.withLockedValue { $0 } }, remove)
    }

    @Test func enforceClosesExactlyTheDeniedConnections() {
        let live = LiveConnections()
        let cache = ServiceName(name: "cache")
        let denied = add(live, Mesh.frontend, Mesh.backend)
        let otherDestination = add(live, Mesh.frontend, cache)
        let unknownCaller = add(live, nil, Mesh.backend)
        let alsoDenied = add(live, Mesh.frontend, Mesh.backend)

        #expect(live.enforce(Mesh.denyFrontendToBackend) == 2)
        for entry in [denied, alsoDenied] {
            #expect(entry.closedWith().count == 1)
            #expect(entry.closedWith().first?.contains("closed by a policy change") == true)
            #expect(entry.closedWith().first?.contains("frontend>backend") == true)
        }
        #expect(otherDestination.closedWith().isEmpty && unknownCaller.closedWith().isEmpty)
        #expect(live.count == 4, "closing is the connection's business; it leaves when it ends")

        #expect(live.enforce(Mesh.stopAll) == 4)
        #expect(unknownCaller.closedWith().first?.contains("all traffic is stopped") == true)
        #expect(live.enforce(AuthorizationPolicy()) == 0)
    }

    @Test func closeAllClosesEveryConnection() {
        let live = LiveConnections()
        let entries = [add(live, Mesh.frontend, Mesh.backend), add(live, nil, Mesh.backend)]
        live.closeAll(reason: "the node is draining")
        #expect(entries.allSatisfy { $0.closedWith() == ["the node is draining"] })
    }

    @Test func waitUntilEmptyReturnsWhenTheLastConnectionEnds() async throws {
        let live = LiveConnections()
        await live.waitUntilEmpty()  // nothing open: returns at once

        let first = add(live, Mesh.frontend, Mesh.backend)
        let second = add(live, nil, Mesh.backend)
        let drained = NIOLockedValueBox(false)
        let waiter = Task {
            await live.waitUntilEmpty()
            drained.withLockedValue { $0 = true }
        }
        first.remove()
        first.remove()  // removing twice is harmless
        try await Task.sleep(for: .milliseconds(50))
        #expect(!drained.withLockedValue { $0 }, "one connection is still open")
        #expect(live.count == 1)

        second.remove()
        #expect(await eventually { drained.withLockedValue { $0 } })
        #expect(live.count == 0)
        if !drained.withLockedValue({ $0 }) { waiter.cancel() }
    }

    @Test func aConnectionAcceptedButNotYetRelayedKeepsADrainWaiting() async throws {
        let live = LiveConnections()
        let loop = EmbeddedEventLoop()
        let accepted = loop.makePromise(of: Void.self)
        live.admit(until: accepted.futureResult)
        #expect(!live.isIdle && live.count == 0, "admitted, not relayed")
        let drained = Task { await live.drain(timeout: .seconds(5), reason: "test") }
        try await Task.sleep(for: .milliseconds(50))
        let relayed = add(live, Mesh.frontend, Mesh.backend)
        accepted.succeed()
        try await Task.sleep(for: .milliseconds(50))
        #expect(!live.isIdle, "still relayed")
        relayed.remove()
        #expect(await drained.value, "the drain ended when the connection did, not before it was relayed")
        #expect(live.isIdle)
    }
}

@Suite struct MeshTLSStoreTests {
    @Test func credentialsArriveForAWaitingWorkload() throws {
        let ca = try TestCA()
        let asked = NIOLockedValueBox<[ServiceName]>([])
        let store = MeshTLSStore { service in asked.withLockedValue { $0.append(service) } }
        try store.update(ca.credentials(node: "a"))
        let loop = EmbeddedEventLoop()

        let waiting = store.workloadCertificate(for: Mesh.frontend, on: loop, timeout: .seconds(5))
        #expect(asked.withLockedValue { $0 } == [Mesh.frontend], "the node is asked for the missing certificate")
        #expect(outcome(of: waiting) == nil)

        try store.update(ca.credentials(node: "a", workloads: [Mesh.frontend]))
        guard case .success(let tls) = outcome(of: waiting) else {
            Issue.record("the waiter should have its credentials")
            return
        }
        #expect(tls.generation == 2)
        #expect(tls.credentials.workloads[Mesh.frontend] != nil)
        loop.advanceTime(by: .seconds(6))
        #expect(
            outcome(of: store.workloadCertificate(for: Mesh.frontend, on: loop)).map { (try? $0.get()) != nil } == true,
            "present now: no waiting")
        #expect(asked.withLockedValue { $0 }.count == 1)
    }

    @Test func aWorkloadCertificateThatNeverComesFailsAfterTheTimeout() throws {
        let ca = try TestCA()
        let store = MeshTLSStore()
        try store.update(ca.credentials(node: "a"))
        let loop = EmbeddedEventLoop()
        let waiting = store.workloadCertificate(for: Mesh.frontend, on: loop, timeout: .milliseconds(100))
        loop.advanceTime(by: .milliseconds(99))
        #expect(outcome(of: waiting) == nil)
        loop.advanceTime(by: .milliseconds(1))
        #expect(failure(of: waiting) as? MeshTLSError == .noWorkloadCertificate(Mesh.frontend))
    }

    @Test func unusableCredentialsLeaveTheCurrentOnes() throws {
        let ca = try TestCA()
        let store = MeshTLSStore()
        try store.update(ca.credentials(node: "a"))
        var broken = try ca.credentials(node: "a")
        broken.node.privateKeyPEM = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
        #expect(throws: MeshTLSError.self) { try store.update(broken) }
        #expect(store.current?.generation == 1)
    }
}
