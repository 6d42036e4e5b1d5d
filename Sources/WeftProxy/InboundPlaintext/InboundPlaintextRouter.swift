import NIOConcurrencyHelpers
import WeftCore

/// Plaintext connections from outside the mesh to a declared service port (the capture's :15006 path).
///
/// STRICT ports refuse them; PERMISSIVE ports pass them to the workload, labelled unauthenticated (no source
/// service) and judged as a caller without identity (only `*` intentions match it). Ports the node did not declare
/// are refused: the capture only redirects declared ones, so anything else means config and capture disagree.
public final class InboundPlaintextRouter: ConnectionRouter {
    /// A declared service port: its mode and the service it belongs to.
    public struct Port: Sendable, Equatable {
        public var mode: MeshMode
        public var service: ServiceName

        public init(mode: MeshMode, service: ServiceName) {
            self.mode = mode
            self.service = service
        }
    }

    private let ports: NIOLockedValueBox<[UInt16: Port]>

    public init(ports: [UInt16: Port]) {
        self.ports = NIOLockedValueBox(ports)
    }

    /// Replaces the declared ports (a new config version).
    public func update(ports: [UInt16: Port]) {
        self.ports.withLockedValue { $0 = ports }
    }

    public func decide(_ connection: CapturedConnection, config: ProxyConfig) -> ConnectionDecision {
        let port = connection.originalDestination.port
        guard let declared = ports.withLockedValue({ $0[port] }) else {
            return .refuse(.notFound("port \(port) is not a declared service port on this node"))
        }
        switch declared.mode {
        case .strict:
            return .refuse(
                .forbidden("plaintext to \(declared.service) refused: port \(port) is STRICT (mTLS only)"),
                source: nil, destination: declared.service)
        case .permissive:
            let decision = config.policy.evaluate(source: nil, destination: declared.service)
            guard decision.allowed else {
                return .refuse(.forbidden("denied: \(decision.reason)"), source: nil, destination: declared.service)
            }
            return .forward(to: connection.originalDestination, source: nil, destination: declared.service)
        }
    }
}
