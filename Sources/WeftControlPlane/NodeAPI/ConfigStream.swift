import Foundation
import GRPCCore
import WeftAPI
import WeftCore

/// One node's Watch stream: sends the node what differs from what it holds, then every change, and takes its
/// ACKs and NACKs. A node deleted while its stream is open is cut off at the next compiled revision.
struct ConfigStream {
    let node: String
    let distributor: ConfigDistributor

    func run(
        requests: RPCAsyncSequence<Weft_Node_V1_WatchRequest, any Error>,
        response: RPCWriter<Weft_Node_V1_ConfigUpdate>
    ) async throws {
        var iterator = requests.makeAsyncIterator()
        guard let first = try await iterator.next(), case .subscribe(let subscribe)? = first.kind else {
            throw RPCError(code: .invalidArgument, message: "the first message of Watch must be a Subscribe")
        }
        distributor.streamOpened(node: node, sendsHeartbeats: subscribe.heartbeatIntervalMs > 0)
        defer { distributor.streamClosed(node: node) }
        let (waiterID, revisions) = distributor.waitForRevisions()
        defer { distributor.stopWaiting(waiterID) }

        let reader = RequestReader(iterator: iterator)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await send(revisions: revisions, known: subscribe, to: response)
            }
            group.addTask {
                var iterator = reader.iterator
                while let message = try await iterator.next() {
                    switch message.kind {
                    case .ack(let ack): distributor.recordAck(node: node, version: ack.version)
                    case .nack(let nack): distributor.recordNack(node: node, version: nack.version, reason: nack.reason)
                    case .heartbeat: distributor.heard(node: node)
                    case .subscribe, .none: continue
                    }
                }
            }
            // The node closing its side ends the stream; so does an error on either side.
            try await group.next()
            group.cancelAll()
        }
    }

    /// Hands the request iterator, already past the Subscribe, to the reading task. Only that task uses it from
    /// then on, which is what makes the unchecked Sendable sound.
    private struct RequestReader: @unchecked Sendable {
        var iterator: RPCAsyncSequence<Weft_Node_V1_WatchRequest, any Error>.AsyncIterator
    }

    /// The sending side: a full comparison against what the node said it holds, then deltas.
    private func send(
        revisions: AsyncStream<Int64>, known subscribe: Weft_Node_V1_Subscribe,
        to response: RPCWriter<Weft_Node_V1_ConfigUpdate>
    ) async throws {
        var sentVersion = subscribe.version
        var base: Int64?
        var specific: [String: String] = [:]
        var isFirst = true
        var listed = false
        for await _ in revisions {
            guard let mesh = distributor.current else { continue }
            // Listed once and gone now: deleted by an admin (a stream opened just after joining may see a mesh
            // compiled before the join, so absence alone proves nothing).
            if mesh.nodes[node] != nil {
                listed = true
            } else if listed {
                throw RPCError(
                    code: .permissionDenied, message: "node \(node) was deleted: join again with a new token")
            }
            var update = Weft_Node_V1_ConfigUpdate()
            update.version = UInt64(mesh.revision)
            let nodeSpecific = try mesh.nodeSpecific(for: node)
            if let previousBase = base {
                guard let delta = distributor.sharedDelta(from: previousBase, to: mesh.revision) else {
                    throw RPCError(
                        code: .unavailable,
                        message:
                            "this stream fell too far behind the config history; subscribe again with the versions you hold"
                    )
                }
                update.resources = delta.changed.values.sorted { $0.name < $1.name }.map(Self.message)
                update.removed = delta.removed.sorted()
                for (name, resource) in nodeSpecific where specific[name] != resource.version {
                    update.resources.append(Self.message(resource))
                }
                update.removed += specific.keys.filter { nodeSpecific[$0] == nil }.sorted()
            } else {
                let held = subscribe.resourceVersions
                let all = mesh.shared.merging(nodeSpecific) { shared, _ in shared }
                update.resources = all.values.filter { held[$0.name] != $0.version }.sorted { $0.name < $1.name }
                    .map(Self.message)
                update.removed = held.keys.filter { all[$0] == nil }.sorted()
            }
            base = mesh.revision
            specific = nodeSpecific.mapValues(\.version)
            // The first answer always goes out, even empty: it tells the node its config is current.
            guard isFirst || !update.resources.isEmpty || !update.removed.isEmpty || update.version != sentVersion
            else {
                continue
            }
            isFirst = false
            try await response.write(update)
            sentVersion = update.version
            distributor.recordSent(node: node, version: update.version)
        }
    }

    static func message(_ resource: ConfigResource) -> Weft_Node_V1_Resource {
        var message = Weft_Node_V1_Resource()
        message.name = resource.name
        message.version = resource.version
        message.payload = resource.payload
        return message
    }
}
