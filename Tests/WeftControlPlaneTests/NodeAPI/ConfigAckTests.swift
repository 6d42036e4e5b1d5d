import Foundation
import GRPCCore
import Testing
import WeftAPI
import WeftCore

@testable import WeftNode

@Suite("Config ACK and NACK", .serialized)
struct ConfigAckTests {
    static func update(version: UInt64, _ resources: [ConfigResource], removed: [String] = [])
        -> Weft_Node_V1_ConfigUpdate
    {
        .with { update in
            update.version = version
            update.resources = resources.map { resource in
                .with {
                    $0.name = resource.name
                    $0.version = resource.version
                    $0.payload = resource.payload
                }
            }
            update.removed = removed
        }
    }

    static func mesh(stopAll: Bool) throws -> ConfigResource {
        try ConfigResource.make(
            name: ConfigResource.meshName,
            MeshResource(
                node: "host-a", trustDomain: "weft.local", meshMode: .strict, egress: .passthrough,
                defaultAction: .allow,
                stopAll: stopAll, vipRanges: [NodeConfig.defaultVIPRange], telemetry: TelemetrySettings()
            )
        )
    }

    @Test func aRefusedUpdateLeavesTheLastGoodConfig() throws {
        let cache = ConfigCache()
        let bundle = try ConfigResource.make(name: ConfigResource.trustBundleName, TrustBundleResource(pem: "PEM"))
        guard case .success = cache.apply(Self.update(version: 3, [try Self.mesh(stopAll: false), bundle])) else {
            Issue.record("a complete config was refused")
            return
        }
        // Removing the mesh resource makes an incomplete config: refused, nothing changes.
        guard case .failure(let error) = cache.apply(Self.update(version: 4, [], removed: [ConfigResource.meshName]))
        else {
            Issue.record("an incomplete config was accepted")
            return
        }
        #expect(error == .missing("mesh"))
        #expect(cache.held.version == 3)
        #expect(cache.config?.policy.stopAll == false)
        // A payload that does not match its version is refused too.
        var tampered = Self.update(version: 5, [try Self.mesh(stopAll: true)])
        tampered.resources[0].version = "0000000000000000"
        guard case .failure = cache.apply(tampered) else {
            Issue.record("a payload that does not match its version was accepted")
            return
        }
        #expect(cache.held.version == 3)
        // The next good update applies on top of the last good state.
        guard
            case .success(let (config, summary)) = cache.apply(Self.update(version: 6, [try Self.mesh(stopAll: true)]))
        else {
            Issue.record("a good update after a refused one was refused")
            return
        }
        #expect(config.policy.stopAll)
        #expect(summary.changed == ["mesh"])
    }

    @Test func aNackIsReportedToAdmins() async throws {
        try await Self.withSession { control, session in
            let (outbox, continuation) = AsyncStream.makeStream(of: Weft_Node_V1_WatchRequest.self)
            continuation.yield(.with { $0.kind = .subscribe(Weft_Node_V1_Subscribe()) })
            let watch = Task {
                try await session.service.watch(
                    requestProducer: { writer in for await message in outbox { try await writer.write(message) } },
                    onResponse: { response in
                        for try await update in response.messages {
                            continuation.yield(
                                .with {
                                    $0.kind = .nack(
                                        .with { nack in
                                            nack.version = update.version
                                            nack.reason = "resource mesh: unknown field 'x' (test)"
                                        })
                                })
                        }
                    }
                )
            }
            defer {
                continuation.finish()
                watch.cancel()
            }
            let reported = try await Self.streamStatusOnceNacked(control)
            #expect(reported["nack_reason"] as? String == "resource mesh: unknown field 'x' (test)")
            #expect(reported["nacked_version"] as? Int != nil)
            #expect(reported["acked_version"] == nil)
        }
    }

    /// A config that assembles but does not take effect on the node (its capture could not be updated) is NACKed
    /// with the node's reason, not ACKed before it was applied.
    @Test func aConfigThatFailsToTakeEffectIsNackedWithTheReason() async throws {
        try await Self.withSession { control, session in
            let watch = Task {
                try await session.watch(cache: ConfigCache()) { _, _ in
                    .failed(reason: "cannot update the capture: nft said no (test)")
                }
            }
            defer { watch.cancel() }
            let reported = try await Self.streamStatusOnceNacked(control)
            #expect(reported["nack_reason"] as? String == "cannot update the capture: nft said no (test)")
            #expect(reported["acked_version"] == nil, "never ACKed: \(reported)")
        }
    }

    /// host-a's stream status as the admin API shows it, once it names a NACK (or after 5 s).
    static func streamStatusOnceNacked(_ control: RunningControlPlane) async throws -> [String: Any] {
        var reported: [String: Any] = [:]
        for _ in 0..<50 {
            reported = try await control.admin(.GET, "/v1/nodes/host-a").json()["stream"] as? [String: Any] ?? [:]
            if reported["nack_reason"] != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return reported
    }

    /// A control plane and a session of node host-a (joined, not watching yet); both ended afterwards.
    static func withSession(_ body: (RunningControlPlane, NodeSession) async throws -> Void) async throws {
        try await NodeAPITests.withControlPlane { control in
            let credentials = try await WatchingNode.join(control, name: "host-a")
            let (session, runTask) = try WatchingNode.connect(control, credentials: credentials)
            defer {
                session.close()
                runTask.cancel()
            }
            try await body(control, session)
        }
    }
}
