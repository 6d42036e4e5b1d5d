import NIOHPACK
import NIOHTTP1
import Testing
import WeftCore

@testable import WeftProxy

/// The destination node's decision on one CONNECT: peer identity × authority × policy → status and result.
@Suite struct HBONEInboundRouterTests {
    static let localEndpoint = IPSocketAddress("198.18.0.12:8080")!
    static let config = LoopbackMesh.config(endpoint: localEndpoint, hbonePort: 15008)
    static let stranger = SPIFFEID.workload(trustDomain: Mesh.trustDomain, service: "stranger")
    static let nodeA = SPIFFEID.node(trustDomain: Mesh.trustDomain, name: "a")

    struct Row: Sendable, CustomTestStringConvertible {
        var peer: SPIFFEID?
        var authority: String
        var policy = AuthorizationPolicy()
        var status: HTTPResponseStatus?
        var destination: ServiceName?
        var because: String

        var testDescription: String { "\(peer?.description ?? "no identity") → \(authority): \(because)" }
    }

    static let rows: [Row] = [
        Row(
            peer: Mesh.frontendID, authority: "198.18.0.12:8080", status: nil, destination: Mesh.backend,
            because: "accepted"),
        Row(peer: nil, authority: "198.18.0.12:8080", status: .forbidden, because: "no verified client identity"),
        Row(
            peer: Mesh.frontendID, authority: "127.0.0.2:8080", status: .notFound,
            because: "127.0.0.2:8080 is not an endpoint on this node"),
        Row(
            peer: Mesh.frontendID, authority: "198.18.0.12:8081", status: .notFound,
            because: "198.18.0.12:8081 is not an endpoint on this node"),
        Row(
            peer: Mesh.frontendID, authority: "198.18.0.12:8080", policy: Mesh.denyFrontendToBackend,
            status: .forbidden, destination: Mesh.backend, because: "denied by intention frontend>backend"),
        Row(
            peer: Mesh.frontendID, authority: "198.18.0.12:8080", policy: Mesh.stopAll, status: .forbidden,
            destination: Mesh.backend, because: "all traffic is stopped"),
        Row(
            peer: stranger, authority: "198.18.0.12:8080", policy: AuthorizationPolicy(defaultAction: .deny),
            status: .forbidden, destination: Mesh.backend, because: "mesh default is deny"),
        Row(
            peer: stranger, authority: "198.18.0.12:8080", status: nil, destination: Mesh.backend,
            because: "accepted: a service no intention names is judged by the default"),
        Row(peer: nil, authority: "backend.weft:80", status: .badRequest, because: "give ADDRESS:PORT"),
        Row(
            peer: nodeA, authority: "198.18.0.12:8080", status: .forbidden,
            because: "spiffe://weft.local/node/a is not a workload identity: nodes call no services"),
    ]

    @Test(arguments: rows)
    func decides(_ row: Row) {
        let headers = HPACKHeaders([(":method", "CONNECT"), (":authority", row.authority)])
        var config = Self.config
        config.policy = row.policy
        let decision = HBONEInboundRouter.decide(request: headers, peer: row.peer, config: config)
        #expect(decision.destination == row.destination)
        let caller: ServiceName? =
            switch row.peer?.kind {
            case .workload(_, let name)?: ServiceName(name: name)
            default: nil
            }
        #expect(decision.source == caller)
        switch decision.outcome {
        case .success(let accept):
            #expect(row.status == nil, "expected \(String(describing: row.status)), got an accept")
            #expect(accept.request.authority == IPSocketAddress(row.authority))
            #expect(accept.identity == row.peer)
            #expect(accept.destination == row.destination)
        case .failure(let refusal):
            #expect(refusal.status == row.status)
            #expect(refusal.result == .refused)
            #expect(refusal.reason.contains(row.because), "\(refusal.reason)")
        }
    }

    @Test func aGetIsRefused405BeforeTheIdentityIsLookedAt() {
        let headers = HPACKHeaders([(":method", "GET"), (":path", "/"), (":authority", "198.18.0.12:8080")])
        let decision = HBONEInboundRouter.decide(request: headers, peer: nil, config: Self.config)
        #expect(
            decision.outcome
                == .failure(
                    Refusal(
                        status: .methodNotAllowed, reason: HBONERequest.ParseError.notConnect(method: "GET").description
                    )))
    }

    @Test func aDenialNamesTheCallersIdentity() throws {
        var config = Self.config
        config.policy = Mesh.denyFrontendToBackend
        let headers = HPACKHeaders([(":method", "CONNECT"), (":authority", "198.18.0.12:8080")])
        let decision = HBONEInboundRouter.decide(request: headers, peer: Mesh.frontendID, config: config)
        #expect(
            decision.outcome
                == .failure(.forbidden("denied for \(Mesh.frontendID): denied by intention frontend>backend")))
    }
}
