#if canImport(Glibc)
    import Glibc
#endif

/// Why the CA's key-encryption key file cannot be used; each message names the file and what to do.
public enum KeyEncryptionKeyError: Error, Equatable, CustomStringConvertible {
    case missing(path: String)
    case unreadable(path: String, reason: String)
    case uncreatable(path: String, reason: String)
    case notARegularFile(path: String)
    case tooOpen(path: String, mode: mode_t)
    case wrongSize(path: String, size: Int)

    public var description: String {
        switch self {
        case .missing(let path):
            return
                "the CA key-encryption key file \(path) does not exist (make one with: (umask 077; head -c 32 /dev/urandom > \(path)))"
        case .unreadable(let path, let reason): return "cannot read the CA key-encryption key file \(path): \(reason)"
        case .uncreatable(let path, let reason):
            return "cannot create the CA key-encryption key file \(path): \(reason)"
        case .notARegularFile(let path): return "the CA key-encryption key file \(path) is not a regular file"
        case .tooOpen(let path, let mode):
            return
                "the CA key-encryption key file \(path) has mode \(String(mode, radix: 8)): only its owner may read it (chmod 600 \(path))"
        case .wrongSize(let path, let size):
            return
                "the CA key-encryption key file \(path) holds \(size) bytes, not \(KeyEncryptionKey.size) random bytes (make one with: (umask 077; head -c 32 /dev/urandom > \(path)))"
        }
    }
}
