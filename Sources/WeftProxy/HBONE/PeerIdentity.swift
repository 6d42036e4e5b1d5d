import NIOConcurrencyHelpers
import WeftCore

/// The verified identity of one HBONE connection's client, set during the handshake, read by its streams.
final class PeerIdentity: Sendable {
    let identity = NIOLockedValueBox<SPIFFEID?>(nil)
}
