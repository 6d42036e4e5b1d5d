import CLinuxNet
import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// One end of a hand-over conversation: a connected unix SOCK_SEQPACKET socket, one JSON message per datagram.
/// Every call blocks (bounded by its timeout): run it off the event loops, from one task at a time.
final class HandOverConnection: Sendable {
    let fd: Int32

    init(fd: Int32) {
        self.fd = fd
    }

    deinit { close(fd) }

    /// Connects to the hand-over socket at `path`; nil when nobody listens there (no file, or a stale one).
    static func connect(to path: String) throws(HandOverError) -> HandOverConnection? {
        let fd = weft_handover_connect(path)
        if fd == -ENOENT || fd == -ECONNREFUSED { return nil }
        guard fd >= 0 else { throw HandOverError(description: "cannot connect to \(path): \(text(fd))") }
        return HandOverConnection(fd: fd)
    }

    /// The peer's uid and pid as the kernel saw them at connect.
    func peer() throws(HandOverError) -> (uid: uid_t, pid: Int32) {
        var uid: UInt32 = 0
        var pid: Int32 = 0
        let result = weft_handover_peer(fd, &uid, &pid)
        guard result == 0 else { throw HandOverError(description: "SO_PEERCRED: \(Self.text(result))") }
        return (uid, pid)
    }

    /// Refuses a peer that is not this process's own user: only it may take over or hand over listeners.
    func requireSameUser() throws(HandOverError) -> Int32 {
        let (uid, pid) = try peer()
        guard uid == geteuid() else {
            throw HandOverError(description: "the peer (pid \(pid)) runs as uid \(uid), not this node's \(geteuid())")
        }
        return pid
    }

    func send(_ message: HandOverMessage, descriptors: [Int32] = []) throws(HandOverError) {
        let data: [UInt8]
        do {
            data = Array(try JSONEncoder().encode(Envelope(version: HandOverMessage.version, message: message)))
        } catch {
            throw HandOverError(description: "cannot encode \(message): \(error)")
        }
        let sent = data.withUnsafeBytes { bytes in
            descriptors.withUnsafeBufferPointer { fds in
                weft_handover_send(fd, bytes.baseAddress, Int32(bytes.count), fds.baseAddress, Int32(fds.count))
            }
        }
        guard sent == data.count else { throw HandOverError(description: "sending: \(Self.text(sent))") }
    }

    /// The next message and the descriptors it carried (the caller owns them), within `timeout`.
    func receive(timeout: Duration) throws(HandOverError) -> (HandOverMessage, [Int32]) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var fds = [Int32](repeating: -1, count: Int(WEFT_HANDOVER_MAX_FDS))
        var count: Int32 = 0
        let capacity = Int32(buffer.count)
        let received = buffer.withUnsafeMutableBytes { bytes in
            fds.withUnsafeMutableBufferPointer { fds in
                weft_handover_receive(
                    fd, bytes.baseAddress, capacity, fds.baseAddress, &count, Int32(timeout.wholeMilliseconds))
            }
        }
        let descriptors = Array(fds.prefix(Int(count)))
        guard received > 0 else {
            throw HandOverError(
                description: received == 0
                    ? "the peer closed the connection"
                    : received == -EAGAIN
                        ? "no answer within \(timeout)" : "receiving: \(Self.text(received))")
        }
        do {
            let envelope = try JSONDecoder().decode(Envelope.self, from: Data(buffer.prefix(Int(received))))
            guard envelope.version == HandOverMessage.version else {
                throw HandOverError(
                    description:
                        "the peer speaks hand-over version \(envelope.version), this node \(HandOverMessage.version)")
            }
            return (envelope.message, descriptors)
        } catch {
            for fd in descriptors { close(fd) }
            throw error as? HandOverError ?? HandOverError(description: "an unreadable message: \(error)")
        }
    }

    static func text(_ negativeErrno: Int32) -> String { String(cString: strerror(-negativeErrno)) }

    private struct Envelope: Codable {
        var version: Int
        var message: HandOverMessage
    }
}

/// This process's network namespace (the inode of /proc/self/ns/net): sockets never cross namespaces.
enum NetworkNamespaceIdentity {
    static var current: UInt64 {
        var info = stat()
        guard stat("/proc/self/ns/net", &info) == 0 else { return 0 }
        return UInt64(info.st_ino)
    }
}
