import CLinuxNet

#if canImport(Glibc)
    import Glibc
#endif

/// Runs code with the calling thread inside another network namespace.
///
/// Sockets opened inside `body` belong to that namespace for their whole life, whichever thread uses them later.
/// `body` is synchronous so that nothing else runs on this thread while it is switched.
public enum NetworkNamespace {
    public enum Error: Swift.Error, CustomStringConvertible {
        case open(path: String, errno: Int32)
        case enter(path: String, errno: Int32)
        case restore(errno: Int32)

        public var description: String {
            switch self {
            case .open(let path, let e):
                return "cannot open network namespace \(path): \(String(cString: strerror(e)))"
            case .enter(let path, let e):
                return "cannot enter network namespace \(path): \(String(cString: strerror(e))) (needs CAP_SYS_ADMIN)"
            case .restore(let e):
                return "cannot return to the original network namespace: \(String(cString: strerror(e)))"
            }
        }
    }

    /// `path` is a namespace file such as `/run/netns/NAME` or `/proc/PID/ns/net`; nil runs `body` where we are.
    public static func perform<T>(inNamespaceAt path: String?, _ body: () throws -> T) throws -> T {
        guard let path else { return try body() }
        let original = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard original >= 0 else { throw Error.open(path: "/proc/thread-self/ns/net", errno: errno) }
        defer { close(original) }
        let target = open(path, O_RDONLY | O_CLOEXEC)
        guard target >= 0 else { throw Error.open(path: path, errno: errno) }
        defer { close(target) }
        guard weft_setns_net(target) == 0 else { throw Error.enter(path: path, errno: errno) }
        defer {
            if weft_setns_net(original) != 0 {
                // A thread stuck in a foreign namespace would silently misroute every later socket it opens.
                fatalError(Error.restore(errno: errno).description)
            }
        }
        return try body()
    }
}
