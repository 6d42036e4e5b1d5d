import WeftCore

/// What a local process's cgroup says about who it is.
public enum CgroupIdentity: Sendable, Equatable {
    /// The process runs in a trusted systemd service unit: this is the service it speaks for.
    case service(String)
    /// The process is no workload of the mesh; `reason` says why (outside the trusted slices, in a delegated or
    /// user-owned subtree, no service unit, a unit name that is no valid service name).
    case noWorkload(reason: String)
}
