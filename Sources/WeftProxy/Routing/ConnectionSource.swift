/// Who opened a captured connection on this host, as far as the node could tell.
public struct ConnectionSource: Sendable, Equatable {
    /// What the node knows of the caller.
    public enum Identity: Sendable, Equatable {
        /// A local workload of this service.
        case service(String)
        /// A local process that is no workload of the mesh (and why): it calls unmeshed, as egress policy allows.
        case noWorkload(reason: String)
        /// The caller could not be looked up (and why): it is refused every mesh destination, never sent unmeshed.
        case unknown(reason: String)
    }

    public var identity: Identity
    /// The client's cgroup path relative to the cgroup2 root, when it is a local process.
    public var cgroupPath: String?
    public var uid: UInt32?

    public init(
        identity: Identity = .noWorkload(reason: "not a local process"), cgroupPath: String? = nil, uid: UInt32? = nil
    ) {
        self.identity = identity
        self.cgroupPath = cgroupPath
        self.uid = uid
    }

    /// The local service the client process belongs to; nil for processes that are no known workload.
    public var service: String? {
        if case .service(let name) = identity { return name }
        return nil
    }
}
