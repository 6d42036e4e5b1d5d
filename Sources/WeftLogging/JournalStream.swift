import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Whether standard error goes to journald: systemd sets `JOURNAL_STREAM` to the `device:inode` of the stream it
/// connected (systemd.exec(5)); a process whose stderr was redirected elsewhere sees another file there.
public enum JournalStream {
    /// True when `value` (`JOURNAL_STREAM`) names the file open as `descriptor`.
    public static func isConnected(_ value: String?, descriptor: Int32 = 2) -> Bool {
        guard let value else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    /// True when this process's standard error goes to journald.
    public static var isStandardError: Bool {
        isConnected(getenv("JOURNAL_STREAM").map { String(cString: $0) })
    }

    /// The syslog priority journald files a line of `level` under (its `<N>` prefix, sd-daemon(3)).
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
