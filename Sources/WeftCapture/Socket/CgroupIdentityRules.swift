import WeftCore

/// Which cgroups give an identity: only a service unit directly inside a trusted slice (default `system.slice`),
/// never one in a delegated or user-owned subtree, and only when the unit name is a valid service name.
///
/// `system.slice/frontend.service` → frontend; `system.slice/worker@2.service` → worker (a template's instances are
/// one service); `user.slice/user-1000.slice/user@1000.service/app.slice/frontend.service` → none (not a trusted
/// slice, and delegated to the user); `system.slice/runner.service/frontend.service` → none (a cgroup below a unit
/// exists only by delegation).
public struct CgroupIdentityRules: Sendable, Equatable {
    /// Slices, as paths relative to the cgroup2 root, whose service units are identities.
    public var trustedSlices: [String]

    public static let defaultTrustedSlices = ["system.slice"]

    public init(trustedSlices: [String] = Self.defaultTrustedSlices) {
        self.trustedSlices = trustedSlices.map(Self.normalized)
    }

    /// The identity of a process in `entry` running as `uid`: a services.d file that matches names it (and is
    /// returned), else the trusted unit it runs in.
    public func identity(of entry: CgroupEntry, uid: UInt32, overrides: [ServiceOverride] = []) -> (
        identity: CgroupIdentity, override: ServiceOverride?
    ) {
        let unit = self.unit(of: entry)
        if let override = overrides.first(where: { $0.matches(entry: entry, unit: try? unit.get(), uid: uid) }) {
            return (.service(override.name), override)
        }
        switch unit {
        case .failure(let refusal):
            return (.noWorkload(reason: refusal.reason), nil)
        case .success(let unit):
            var name = unit.dropLast(".service".count)
            if let at = name.firstIndex(of: "@") { name = name[..<at] }
            guard DNSLabel.isValid(String(name)) else {
                return (
                    .noWorkload(
                        reason: "unit '\(unit)' does not name a valid service (a DNS label); name it in services.d"),
                    nil
                )
            }
            return (.service(String(name)), nil)
        }
    }

    /// Why a cgroup is no trusted unit.
    public struct Untrusted: Error, Sendable, Equatable {
        public var reason: String
    }

    /// The service unit (`NAME.service`) `entry` is, when it sits directly in a trusted slice, outside any delegated
    /// or user-owned subtree.
    public func unit(of entry: CgroupEntry) -> Result<String, Untrusted> {
        let path = Self.normalized(entry.path)
        guard
            let slice = trustedSlices.filter({ path.hasPrefix($0 + "/") }).max(by: { $0.count < $1.count })
        else {
            let slices = trustedSlices.joined(separator: ", ")
            return .failure(Untrusted(reason: "cgroup '\(path)' is in no trusted slice (\(slices))"))
        }
        guard !entry.delegated else {
            return .failure(Untrusted(reason: "cgroup '\(path)' is in a delegated or non-root-owned subtree"))
        }
        let rest = path.dropFirst(slice.count + 1).split(separator: "/")
        guard rest.count == 1, let unit = rest.first, unit.hasSuffix(".service"), unit != ".service" else {
            return .failure(Untrusted(reason: "cgroup '\(path)' is no service unit directly in \(slice)"))
        }
        return .success(String(unit))
    }

    static func normalized(_ path: String) -> String {
        path.split(separator: "/").joined(separator: "/")
    }
}
