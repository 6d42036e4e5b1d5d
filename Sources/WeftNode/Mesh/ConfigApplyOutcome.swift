/// Whether a config version took effect on this node: the control plane gets an ACK only for `applied`, and a NACK
/// with the reason otherwise.
public enum ConfigApplyOutcome: Sendable, Equatable {
    case applied
    /// A part could not be put into effect (the capture, the trust bundle); the reason goes to the control plane.
    case failed(reason: String)
}
