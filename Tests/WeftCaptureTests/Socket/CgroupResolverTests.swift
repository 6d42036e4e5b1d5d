import Foundation
import Glibc
import Testing

@testable import WeftCapture

/// Creates `path` and its parents (mode 0755); true when it exists afterwards.
private func mkdir_p(_ path: String) -> Bool {
    var built = ""
    for part in path.split(separator: "/") {
        built += "/" + part
        mkdir(built, 0o755)
    }
    var info = stat()
    return stat(path, &info) == 0
}

@Suite struct CgroupResolverTests {
    @Test(arguments: [
        ("system.slice/frontend.service", "frontend"),
        ("system.slice/worker@2.service", "worker"),
        ("/system.slice/backend.service/", "backend"),
    ])
    func aServiceUnitDirectlyInATrustedSliceIsItsService(path: String, service: String) {
        let identity = CgroupIdentityRules().identity(of: CgroupEntry(path: path, delegated: false), uid: 0).identity
        #expect(identity == .service(service))
    }

    @Test(arguments: [
        ("", "in no trusted slice"),
        ("user.slice/user-1000.slice/user@1000.service/app.slice/frontend.service", "in no trusted slice"),
        ("user.slice/user-1000.slice/session-3.scope", "in no trusted slice"),
        ("weft.slice/system.slice/frontend.service", "in no trusted slice"),
        ("system.slice", "in no trusted slice"),
        ("system.slicex/frontend.service", "in no trusted slice"),
        ("system.slice/runner.service/frontend.service", "no service unit directly in system.slice"),
        ("system.slice/app.slice/frontend.service", "no service unit directly in system.slice"),
        ("system.slice/sshd.socket", "no service unit directly in system.slice"),
        ("system.slice/.service", "no service unit directly in system.slice"),
        ("system.slice/Front_End.service", "does not name a valid service"),
        ("system.slice/dev-x\\x2dy.service", "does not name a valid service"),
        ("system.slice/@.service", "does not name a valid service"),
    ])
    func anythingElseIsNoWorkloadWithTheReason(path: String, reason: String) {
        let identity = CgroupIdentityRules().identity(of: CgroupEntry(path: path, delegated: false), uid: 0).identity
        guard case .noWorkload(let said) = identity else {
            Issue.record("\(path) became \(identity)")
            return
        }
        #expect(said.contains(reason), "\(path): \(said)")
    }

    @Test func aDelegatedSubtreeGivesNoIdentityEvenInATrustedSlice() {
        let entry = CgroupEntry(path: "system.slice/frontend.service", delegated: true)
        #expect(CgroupIdentityRules().identity(of: entry, uid: 0).identity != .service("frontend"))
    }

    @Test func theLongestTrustedSliceDecidesAndSlicesAreNormalized() {
        let rules = CgroupIdentityRules(trustedSlices: ["/weft-lab/l1/a/system.slice/", "weft-lab/l1/a"])
        #expect(rules.trustedSlices == ["weft-lab/l1/a/system.slice", "weft-lab/l1/a"])
        let entry = CgroupEntry(path: "weft-lab/l1/a/system.slice/backend.service", delegated: false)
        #expect(rules.identity(of: entry, uid: 0).identity == .service("backend"))
    }

    @Test func aServicesDFileNamesTheCallerToo() throws {
        let override = try ServiceOverrideLoader.parse("name = \"jobs\"\nuid = 1001", file: "jobs.toml")
        let entry = CgroupEntry(path: "user.slice/user-1001.slice/session-2.scope", delegated: true)
        let (identity, matched) = CgroupIdentityRules().identity(of: entry, uid: 1001, overrides: [override])
        #expect(identity == .service("jobs") && matched == override)
    }

    /// A real cgroup tree, each made just before it is asked for (found at once, by id): a directory owned by a
    /// user, and one marked `trusted.delegate`, make everything below them delegated; root-owned siblings are not.
    @Test func theResolverMarksUserOwnedAndDelegatedSubtrees() throws {
        let resolver = try CgroupResolver()
        let base = "weft-test-\(getpid())"
        let paths = ["\(base)/user/inner", "\(base)/marked/inner", "\(base)/plain/inner"]
        for path in paths { #expect(mkdir_p(resolver.root + "/" + path)) }
        defer {
            for path in paths + ["\(base)/user", "\(base)/marked", "\(base)/plain", base] {
                rmdir(resolver.root + "/" + path)
            }
        }
        #expect(chown(resolver.root + "/\(base)/user", 1000, 1000) == 0)
        let marked = resolver.root + "/\(base)/marked"
        let setter = Process()
        setter.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        setter.arguments = ["-c", "import os, sys; os.setxattr(sys.argv[1], 'trusted.delegate', b'1')", marked]
        try setter.run()
        setter.waitUntilExit()
        let set = setter.terminationStatus
        func entry(_ path: String) -> CgroupEntry? {
            var info = stat()
            guard lstat(resolver.root + "/" + path, &info) == 0 else { return nil }
            return try? resolver.entry(forID: UInt64(info.st_ino))
        }
        #expect(entry("\(base)/user")?.delegated == true)
        #expect(entry("\(base)/user/inner")?.delegated == true, "below a user-owned cgroup")
        if set == 0 {
            #expect(entry("\(base)/marked/inner")?.delegated == true, "below a cgroup marked delegated")
        }
        #expect(entry("\(base)/plain/inner") == CgroupEntry(path: "\(base)/plain/inner", delegated: false))
    }

    @Test func findsTheCgroup2MountInMountinfo() {
        let hybrid = """
            35 25 0:30 / /sys/fs/cgroup rw,relatime shared:9 - tmpfs tmpfs rw,mode=755
            36 35 0:31 / /sys/fs/cgroup/cpu rw,relatime shared:10 - cgroup cgroup rw,cpu
            44 35 0:39 / /sys/fs/cgroup/unified rw,relatime shared:18 - cgroup2 cgroup2 rw
            """
        #expect(CgroupResolver.cgroup2MountPoint(mountinfo: hybrid) == "/sys/fs/cgroup/unified")
        let unified =
            "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate"
        #expect(CgroupResolver.cgroup2MountPoint(mountinfo: unified) == "/sys/fs/cgroup")
        #expect(CgroupResolver.cgroup2MountPoint(mountinfo: "36 35 0:31 / /x rw - cgroup cgroup rw,cpu") == nil)
    }

    @Test func resolvesTheRootAndAnUnknownID() throws {
        let resolver = try CgroupResolver()
        var info = stat()
        #expect(lstat(resolver.root, &info) == 0)
        #expect(try resolver.entry(forID: UInt64(info.st_ino))?.path == "")
        #expect(try resolver.entry(forID: UInt64.max) == nil)
    }
}
