import WeftCore

/// The local process that opened a captured connection.
public struct SourceWorkload: Sendable, Equatable {
    /// The client's cgroup, relative to the cgroup2 root.
    public var cgroupPath: String
    public var uid: UInt32
    /// The service it speaks for, or why it speaks for none.
    public var identity: CgroupIdentity
}

/// Why the process behind a captured connection could not be found. The caller gets no identity and no
/// unmeshed fallback: the connection is refused with this reason.
public enum SourceLookupError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connected socket matches the connection's 4-tuple (a NAT rewrite of the source port, or the client
    /// already gone).
    case noSocket(client: IPSocketAddress, destination: IPSocketAddress)
    case unknownCgroup(id: UInt64)
    case cgroup(String)
    case query(String)

    public var description: String {
        switch self {
        case .noSocket(let client, let destination):
            "no local socket \(client) → \(destination) (its source may have been rewritten, or it closed)"
        case .unknownCgroup(let id): "the client's cgroup \(id) is not in the cgroup2 hierarchy"
        case .cgroup(let reason): reason
        case .query(let reason): reason
        }
    }
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
    private let rules: CgroupIdentityRules
    private let overrides: [ServiceOverride]

    public init(
        diagnostics: SocketDiagnostics, cgroups: CgroupResolver, rules: CgroupIdentityRules = CgroupIdentityRules(),
        overrides: [ServiceOverride] = []
    ) {
        self.diagnostics = diagnostics
        self.cgroups = cgroups
        self.rules = rules
        self.overrides = overrides
    }

    /// The workload behind a connection accepted on `listener` from `client`, redirected from
    /// `originalDestination`; throws when it cannot be found. When netfilter remapped the client's port, the
    /// socket is found by the original source conntrack records.
    public func workload(
        client: IPSocketAddress, originalDestination: IPSocketAddress, listener: IPSocketAddress? = nil
    ) throws(SourceLookupError) -> SourceWorkload {
        var owner = try socketOwner(client, originalDestination)
        if owner == nil, let listener {
            let original: IPSocketAddress?
            do {
                original = try ConntrackLookup.originalSource(client: client, listener: listener)
            } catch {
                throw .query(error.description)
            }
            if let original, original != client { owner = try socketOwner(original, originalDestination) }
        }
        guard let owner else { throw .noSocket(client: client, destination: originalDestination) }
        let resolved: CgroupEntry?
        do {
            resolved = try cgroups.entry(forID: owner.cgroupID)
        } catch {
            throw .cgroup(error.description)
        }
        guard let entry = resolved else { throw .unknownCgroup(id: owner.cgroupID) }
        let (identity, _) = rules.identity(of: entry, uid: owner.uid, overrides: overrides)
        return SourceWorkload(cgroupPath: entry.path, uid: owner.uid, identity: identity)
    }

    private func socketOwner(_ client: IPSocketAddress, _ destination: IPSocketAddress) throws(SourceLookupError)
        -> SocketOwner?
    {
        do {
            return try diagnostics.owner(ofTCPConnectionFrom: client, to: destination)
        } catch {
            throw .query("sock_diag: \(error)")
        }
    }
}
