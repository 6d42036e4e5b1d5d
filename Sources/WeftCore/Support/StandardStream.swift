#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's standard output or standard error, written with write(2) (no Foundation `FileHandle`).
public enum StandardStream: Sendable {
    case output
    case error

    private var fileDescriptor: Int32 {
        switch self {
        case .output: 1
        case .error: 2
        }
    }

    /// Writes all of `text`, retrying after signals; a closed or full stream drops the rest, as a log line may be.
    public func write(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                #if canImport(Glibc)
                    let written = Glibc.write(fileDescriptor, base + offset, buffer.count - offset)
                #else
                    let written = Darwin.write(fileDescriptor, base + offset, buffer.count - offset)
                #endif
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
