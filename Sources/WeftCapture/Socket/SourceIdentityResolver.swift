import WeftCore

/// The local process that opened a captured connection.
public struct SourceWorkload: Sendable, Equatable {
    /// The client's cgroup, relative to the cgroup2 root.
    public var cgroupPath: String
    public var uid: UInt32
    /// The service named by the cgroup's systemd unit; nil for processes outside any service.
    public var serviceName: String?
}

/// Finds which local cgroup (and so which service) made a captured connection.
///
/// Why sock_diag: after the redirect the proxy knows the client's address and the original destination, which are
/// exactly the client socket's own 4-tuple, and the kernel's socket table says which cgroup created that socket.
/// Nothing has to be programmed in advance. The alternative, nftables `socket cgroupv2` matching at output time,
/// needs a rule or set element per cgroup, reprogramming whenever a unit starts, and a side channel (a mark or ct
/// mark) to carry the result to the accepted socket. Measured cost: see `Scripts/bench/capture`.
public final class SourceIdentityResolver: Sendable {
    private let diagnostics: SocketDiagnostics
    private let cgroups: CgroupResolver

    public init(diagnostics: SocketDiagnostics, cgroups: CgroupResolver) {
        self.diagnostics = diagnostics
        self.cgroups = cgroups
    }

    /// The workload behind a captured connection, or nil when the client socket is not local or already gone.
    public func workload(client: IPSocketAddress, originalDestination: IPSocketAddress) throws -> SourceWorkload? {
        guard let owner = try diagnostics.owner(ofTCPConnectionFrom: client, to: originalDestination) else {
            return nil
        }
        let path = owner.cgroupID == 0 ? nil : cgroups.path(forID: owner.cgroupID)
        return SourceWorkload(
            cgroupPath: path ?? "",
            uid: owner.uid,
            serviceName: path.flatMap(CgroupResolver.serviceName(forCgroupPath:))
        )
    }
}
