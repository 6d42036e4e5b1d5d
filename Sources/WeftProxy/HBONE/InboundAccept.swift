import WeftCore

/// An HBONE CONNECT the inbound router accepted: the endpoint to connect to and who is calling whom.
struct InboundAccept: Sendable, Equatable {
    var request: HBONERequest
    /// The caller's SPIFFE ID, as its mTLS handshake proved it.
    var identity: SPIFFEID
    var destination: ServiceName
}
