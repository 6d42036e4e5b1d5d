import WeftCore

/// Plaintext connections from outside the mesh to a declared service port (the capture's :15006 path).
///
/// STRICT ports refuse them; PERMISSIVE ports pass them to the workload, labelled unauthenticated by the access log
/// (no source service). Ports the node did not declare are refused: the capture only redirects declared ones, so
/// anything else means config and capture disagree.
public struct InboundPlaintextRouter: ConnectionRouter {
    /// The mode of every declared service port, and the service it belongs to.
    public var ports: [UInt16: (mode: MeshMode, service: String)]

    public init(ports: [UInt16: (mode: MeshMode, service: String)]) {
        self.ports = ports
    }

    public func decide(_ connection: CapturedConnection) -> ConnectionDecision {
        let port = connection.originalDestination.port
        guard let declared = ports[port] else {
            return .refuse(reason: "port \(port) is not a declared service port on this node")
        }
        switch declared.mode {
        case .strict:
            return .refuse(reason: "plaintext to \(declared.service) refused: port \(port) is STRICT (mTLS only)")
        case .permissive:
            return .forward(to: connection.originalDestination, destinationService: declared.service)
        }
    }
}
