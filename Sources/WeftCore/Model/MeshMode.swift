/// How a node treats plaintext connections from outside the mesh to a mesh service's port.
public enum MeshMode: String, Sendable, Codable, CaseIterable {
    /// Refused: only mTLS (HBONE) traffic reaches mesh services.
    case strict
    /// Passed on to the service and labelled unauthenticated in telemetry.
    case permissive
}
