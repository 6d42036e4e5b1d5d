import NIOCore
import Synchronization

/// The certificates the control plane revoked, as this node enforces them: a peer presenting one fails its
/// handshake, and each update closes every open mesh connection whose peer presented one that is now revoked.
public final class PeerRevocations: Sendable {
    private struct State {
        var revoked = Set<String>()
        var open: [ObjectIdentifier: (serial: String, channel: any Channel)] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Makes `serials` the revoked set; returns how many open connections it closed.
    @discardableResult
    public func update(_ serials: Set<String>) -> Int {
        let closing = state.withLock { state in
            state.revoked = serials
            return state.open.values.filter { serials.contains($0.serial) }.map(\.channel)
        }
        for channel in closing { channel.close(promise: nil) }
        return closing.count
    }

    public func isRevoked(_ serial: String) -> Bool {
        state.withLock { $0.revoked.contains(serial) }
    }

    /// Follows `channel`, whose peer presented the certificate `serial`, until it closes: closed at once if the
    /// certificate is revoked meanwhile (or already was).
    func track(_ channel: any Channel, serial: String) {
        let id = ObjectIdentifier(channel)
        let revoked = state.withLock { state in
            guard !state.revoked.contains(serial) else { return true }
            state.open[id] = (serial, channel)
            return false
        }
        if revoked {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.open.removeValue(forKey: id) }
        }
    }

    var trackedCount: Int { state.withLock { $0.open.count } }
}
