import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// Maps cgroup v2 ids (as sock_diag reports them) to cgroup paths and service names.
///
/// On cgroup2 a cgroup's id is its directory's inode number, so the resolver walks the hierarchy once, caches
/// id → path, and walks again on a miss (at most once per `rescanInterval`, so unknown ids cannot make it spin).
public final class CgroupResolver: @unchecked Sendable {
    public enum Error: Swift.Error, CustomStringConvertible {
        case noCgroup2Mount

        public var description: String {
            "no cgroup v2 hierarchy is mounted (see /proc/self/mountinfo); mount one, e.g. mount -t cgroup2 none /sys/fs/cgroup"
        }
    }

    /// The cgroup2 mount point this resolver reads.
    public let root: String
    private let rescanInterval: Duration
    private let maxDirectories: Int
    private let lock = Mutex(())
    private var paths: [UInt64: String] = [:]
    private var lastScan: ContinuousClock.Instant?

    public init(root: String? = nil, rescanInterval: Duration = .milliseconds(200), maxDirectories: Int = 100_000)
        throws
    {
        guard let root = root ?? Self.cgroup2MountPoint() else { throw Error.noCgroup2Mount }
        self.root = root
        self.rescanInterval = rescanInterval
        self.maxDirectories = maxDirectories
    }

    /// The first cgroup2 mount in /proc/self/mountinfo (`/sys/fs/cgroup` on systemd hosts).
    public static func cgroup2MountPoint(mountinfo: String? = nil) -> String? {
        let text = mountinfo ?? ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "")
        for line in text.split(separator: "\n") {
            // "<id> <parent> <major:minor> <root> <mount point> <options> [optional...] - <fstype> <source> <opts>"
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, fields.count > 4 else { continue }
            if fields[dash + 1] == "cgroup2" {
                return String(fields[4]).replacing("\\040", with: " ")
            }
        }
        return nil
    }

    /// The cgroup's path relative to the cgroup2 root (`""` for the root itself), or nil if no cgroup has this id.
    public func path(forID id: UInt64) -> String? {
        lock.withLock { _ in
            if let path = paths[id] { return path }
            let now = ContinuousClock.now
            if let lastScan, now - lastScan < rescanInterval { return nil }
            lastScan = now
            paths = scan()
            return paths[id]
        }
    }

    private func scan() -> [UInt64: String] {
        var found: [UInt64: String] = [:]
        var pending = [""]
        while let relative = pending.popLast(), found.count < maxDirectories {
            let absolute = relative.isEmpty ? root : root + "/" + relative
            var info = stat()
            guard lstat(absolute, &info) == 0 else { continue }
            found[UInt64(info.st_ino)] = relative
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: absolute) else { continue }
            for entry in entries {
                let child = relative.isEmpty ? entry : relative + "/" + entry
                var childInfo = stat()
                if lstat(root + "/" + child, &childInfo) == 0, (childInfo.st_mode & S_IFMT) == S_IFDIR {
                    pending.append(child)
                }
            }
        }
        return found
    }

    /// The service a cgroup belongs to: its innermost `NAME.service` component, without the suffix.
    ///
    /// `system.slice/frontend.service` → `frontend`. A template instance `worker@2.service` → `worker`: all
    /// instances of a template are one service. `user@1000.service/app.slice/x.service` → `x`. Nil when the path
    /// has no service unit (a login session scope, the root).
    public static func serviceName(forCgroupPath path: String) -> String? {
        guard let unit = path.split(separator: "/").last(where: { $0.hasSuffix(".service") }) else { return nil }
        var name = unit.dropLast(".service".count)
        if let at = name.firstIndex(of: "@") { name = name[..<at] }
        return name.isEmpty ? nil : String(name)
    }
}
