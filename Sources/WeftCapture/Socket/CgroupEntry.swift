/// A cgroup directory as the resolver found it.
public struct CgroupEntry: Sendable, Equatable {
    /// Relative to the cgroup2 root, without leading or trailing `/` (`""` for the root).
    public var path: String
    /// True when this directory or one above it is not owned by root or is marked delegated (systemd's
    /// `trusted.delegate` / `user.delegate` xattr): what runs below was placed there by someone other than systemd's
    /// root manager, so its unit names prove nothing.
    public var delegated: Bool

    public init(path: String, delegated: Bool) {
        self.path = path
        self.delegated = delegated
    }
}
