import WeftCore

/// What the inbound router made of one CONNECT: the outcome, and the services it is attributed to in telemetry
/// as far as the router got (a refusal before the authority was resolved has no destination).
struct HBONEInboundDecision: Sendable, Equatable {
    /// The calling service, when its identity is one this node's config knows.
    var source: ServiceName?
    var destination: ServiceName?
    var outcome: Result<InboundAccept, Refusal>
}
