import WeftCore

/// What a listener does with one captured connection; `source` and `destination` are the services it is
/// attributed to in telemetry and re-judged against on policy changes (nil: not a mesh workload / service).
public enum ConnectionDecision: Sendable, Equatable {
    /// Relay to this address as plain TCP (a workload on this node, or unmeshed passthrough).
    case forward(to: IPSocketAddress, source: ServiceName?, destination: ServiceName?)
    /// Relay through an HBONE stream to the endpoint's node.
    case tunnel(HBONETunnel, source: ServiceName)
    /// Reset the client's connection.
    case refuse(Refusal, source: ServiceName?, destination: ServiceName?)

    public static func refuse(_ refusal: Refusal) -> ConnectionDecision {
        .refuse(refusal, source: nil, destination: nil)
    }
}
