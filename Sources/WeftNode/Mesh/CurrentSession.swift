import NIOConcurrencyHelpers

/// The node's session with the control plane while the link has one; shared by the link (which sets it) and the
/// certificate refresh (which uses it).
final class CurrentSession: Sendable {
    private let session = NIOLockedValueBox<NodeSession?>(nil)

    var value: NodeSession? {
        get { session.withLockedValue { $0 } }
        set { session.withLockedValue { $0 = newValue } }
    }
}
