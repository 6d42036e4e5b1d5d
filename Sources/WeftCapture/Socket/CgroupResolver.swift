import CLinuxNet
import Synchronization

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// Maps cgroup v2 ids (as sock_diag reports them) to cgroup directories (`CgroupEntry`: the path, and whether it
/// lies in a delegated or non-root-owned subtree).
///
/// Each id is resolved exactly, by file handle (`open_by_handle_at` with a kernfs handle, as systemd does): no walk
/// of the hierarchy, so a cgroup made a moment ago is found at once. Answers are cached (bounded: the cache is
/// emptied when it reaches `maxEntries`); kernfs ids are not reused.
public final class CgroupResolver: @unchecked Sendable {
    public enum Error: Swift.Error, Equatable, CustomStringConvertible {
        case noCgroup2Mount
        case unusable(root: String, reason: String)
        case lookup(id: UInt64, reason: String)

        public var description: String {
            switch self {
            case .noCgroup2Mount:
                "no cgroup v2 hierarchy is mounted (see /proc/self/mountinfo); mount one, e.g. mount -t cgroup2 none /sys/fs/cgroup"
            case .unusable(let root, let reason):
                "cannot resolve cgroups by id below \(root): \(reason) (weft-node needs root, or CAP_DAC_READ_SEARCH)"
            case .lookup(let id, let reason): "cannot resolve cgroup \(id): \(reason)"
            }
        }
    }

    /// The cgroup2 mount point this resolver reads.
    public let root: String
    private let mount: Int32
    private let maxEntries: Int
    private let lock = Mutex(())
    private var entries: [UInt64: CgroupEntry] = [:]

    /// Opens the cgroup2 hierarchy at `root` (default: the first cgroup2 mount) and checks that ids resolve.
    public init(root: String? = nil, maxEntries: Int = 16_384) throws(Error) {
        guard let root = root ?? Self.cgroup2MountPoint() else { throw .noCgroup2Mount }
        self.root = root
        self.maxEntries = maxEntries
        mount = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard mount >= 0 else { throw .unusable(root: root, reason: String(cString: strerror(errno))) }
        var info = stat()
        guard fstat(mount, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(mount)
            throw .unusable(root: root, reason: reason)
        }
        do {
            _ = try resolve(UInt64(info.st_ino))
        } catch {
            close(mount)
            throw .unusable(root: root, reason: "\(error)")
        }
    }

    deinit {
        close(mount)
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

    /// The cgroup with this id, or nil if there is none.
    public func entry(forID id: UInt64) throws(Error) -> CgroupEntry? {
        if let cached = lock.withLock({ _ in entries[id] }) { return cached }
        guard let entry = try resolve(id) else { return nil }
        lock.withLock { _ in
            if entries.count >= maxEntries { entries.removeAll(keepingCapacity: true) }
            entries[id] = entry
        }
        return entry
    }

    private func resolve(_ id: UInt64) throws(Error) -> CgroupEntry? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        let length = weft_cgroup_path(mount, id, &buffer, Int32(buffer.count))
        if length == -ESTALE || length == -ENOENT { return nil }
        guard length >= 0 else { throw .lookup(id: id, reason: String(cString: strerror(-length))) }
        let path = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return CgroupEntry(path: path, delegated: try delegated(path, id: id))
    }

    /// True when a directory on the way from the root to `path` (the root excepted) is not owned by root or is
    /// marked delegated.
    private func delegated(_ path: String, id: UInt64) throws(Error) -> Bool {
        var directory = root
        for component in path.split(separator: "/") {
            directory += "/" + component
            var info = stat()
            guard lstat(directory, &info) == 0 else {
                throw .lookup(id: id, reason: "\(directory): \(String(cString: strerror(errno)))")
            }
            if info.st_uid != 0 || Self.markedDelegated(directory) { return true }
        }
        return false
    }

    /// True when systemd marked the cgroup as delegated to its unit (`Delegate=yes` sets `trusted.delegate`; a
    /// user manager sets `user.delegate`).
    static func markedDelegated(_ path: String) -> Bool {
        let names: [String] = ["trusted.delegate", "user.delegate"]
        return names.contains { name in weft_has_xattr(path, name) == 1 }
    }
}
