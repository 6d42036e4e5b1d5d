import Glibc
import Testing

@testable import WeftCapture

@Suite struct CgroupResolverTests {
    @Test(arguments: [
        ("system.slice/frontend.service", "frontend"),
        ("weft-lab/l1/a/system.slice/backend.service", "backend"),
        ("system.slice/worker@2.service", "worker"),
        ("user.slice/user-1000.slice/user@1000.service/app.slice/notes.service", "notes"),
    ])
    func serviceNameIsTheInnermostServiceUnit(path: String, service: String) {
        #expect(CgroupResolver.serviceName(forCgroupPath: path) == service)
    }

    @Test(arguments: ["", "user.slice/user-1000.slice/session-3.scope", "system.slice", "system.slice/@.service"])
    func noServiceUnitMeansNoName(path: String) {
        #expect(CgroupResolver.serviceName(forCgroupPath: path) == nil)
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
        #expect(resolver.path(forID: UInt64(info.st_ino)) == "")
        #expect(resolver.path(forID: UInt64.max) == nil)
    }
}
