import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The key-encryption key (KEK) that seals the mesh CA's private key in the store: exactly 32 random bytes in a
/// regular file that only its owner may read or write.
public struct KeyEncryptionKey: Sendable {
    public static let size = 32

    /// The file the key was read from or written to.
    public let path: String
    let key: SymmetricKey

    /// Names the key without revealing it; stored next to what it sealed, so a wrong key is told apart from a
    /// damaged record.
    public var id: String {
        var hasher = SHA256()
        hasher.update(data: Data("weft ca-kek id".utf8))
        key.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return hasher.finalize().prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    init(path: String, key: SymmetricKey) {
        self.path = path
        self.key = key
    }

    /// Reads the key at `path`; refuses a missing file, one of another size, and one that group or others may
    /// access.
    public static func read(path: String) throws(KeyEncryptionKeyError) -> KeyEncryptionKey {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw .missing(path: path) }
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { _ = Glibc.close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .notARegularFile(path: path) }
        let mode = status.st_mode & 0o7777
        guard mode & 0o077 == 0 else { throw .tooOpen(path: path, mode: mode) }
        guard status.st_size == size else { throw .wrongSize(path: path, size: Int(status.st_size)) }
        var bytes = [UInt8](repeating: 0, count: size + 1)
        let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, size + 1) }
        guard count == size else {
            if count < 0 { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
            throw .wrongSize(path: path, size: count)
        }
        defer { bytes.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        return KeyEncryptionKey(path: path, key: SymmetricKey(data: bytes.prefix(size)))
    }

    /// Writes a new random key to `path` (mode 0600) and returns it; when another process made the file first,
    /// reads that one instead. Never replaces an existing file.
    public static func create(path: String) throws(KeyEncryptionKeyError) -> KeyEncryptionKey {
        let key = SymmetricKey(size: .bits256)
        // Written under a temporary name and linked into place, so the file appears whole or not at all.
        let temporary = path + ".\(UUID().uuidString).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .uncreatable(path: path, reason: String(cString: strerror(errno))) }
        defer { _ = unlink(temporary) }
        _ = fchmod(fd, 0o600)
        let written = key.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        let writeError = errno
        _ = Glibc.close(fd)
        guard written == size, synced else {
            throw .uncreatable(path: path, reason: String(cString: strerror(writeError)))
        }
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { return try read(path: path) }
            throw .uncreatable(path: path, reason: String(cString: strerror(errno)))
        }
        return KeyEncryptionKey(path: path, key: key)
    }
}
