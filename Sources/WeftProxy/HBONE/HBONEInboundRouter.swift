import NIOHPACK
import WeftCore

/// Decides, from the request headers, the caller's verified identity and the proxy's config only, whether an
/// inbound HBONE CONNECT is relayed (the destination node's side of `OutboundRouter`).
///
/// In order: a request that is no HBONE CONNECT is answered 405/400; a connection without a verified client
/// identity, or with a node's identity (nodes call no services: a node certificate is not a service's), 403; an
/// `:authority` that is no endpoint of this node 404 (never an open proxy); a call the
/// destination service's intentions deny 403.
enum HBONEInboundRouter {
    static func decide(request headers: HPACKHeaders, peer identity: SPIFFEID?, config: ProxyConfig)
        -> HBONEInboundDecision
    {
        let source = identity.flatMap { config.service(of: $0) }
        func refused(_ refusal: Refusal, destination: ServiceName? = nil) -> HBONEInboundDecision {
            HBONEInboundDecision(source: source, destination: destination, outcome: .failure(refusal))
        }
        let request: HBONERequest
        do throws(HBONERequest.ParseError) {
            request = try HBONERequest(parsing: headers)
        } catch {
            return refused(Refusal(status: error.status, reason: error.description))
        }
        guard let identity else {
            return refused(.forbidden("the connection has no verified client identity"))
        }
        guard case .workload = identity.kind else {
            return refused(.forbidden("\(identity) is not a workload identity: nodes call no services"))
        }
        guard let service = config.state.localService(atEndpoint: request.authority) else {
            return refused(.notFound("\(request.authority) is not an endpoint on this node"))
        }
        let destination = service.serviceName
        let decision = config.policy.evaluate(source: source, destination: destination)
        guard decision.allowed else {
            return refused(.forbidden("denied for \(identity): \(decision.reason)"), destination: destination)
        }
        let accept = InboundAccept(request: request, identity: identity, destination: destination)
        return HBONEInboundDecision(source: source, destination: destination, outcome: .success(accept))
    }
}
