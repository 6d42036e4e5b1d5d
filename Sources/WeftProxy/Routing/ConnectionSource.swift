/// Who opened a captured connection on this host, as far as the node could tell.
public struct ConnectionSource: Sendable, Equatable {
    /// The local service the client process belongs to; nil for processes that are no known workload.
    public var service: String?
    /// The client's cgroup path relative to the cgroup2 root, when it is a local process.
    public var cgroupPath: String?
    public var uid: UInt32?

    public init(service: String? = nil, cgroupPath: String? = nil, uid: UInt32? = nil) {
        self.service = service
        self.cgroupPath = cgroupPath
        self.uid = uid
    }
}
