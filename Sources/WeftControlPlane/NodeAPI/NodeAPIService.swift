import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import WeftAPI
import WeftCore
import WeftIdentity
import X509

/// The node API's RPCs. Join and TrustBundle work without a client certificate; every other call takes the node
/// from the client certificate's SPIFFE ID and does only what that node may do.
struct NodeAPIService: Weft_Node_V1_NodeService.SimpleServiceProtocol {
    let registry: Registry
    let distributor: ConfigDistributor
    let logger: Logger

    func join(request: Weft_Node_V1_JoinRequest, context: ServerContext) async throws -> Weft_Node_V1_JoinResponse {
        var declared: [IPAddress] = []
        for text in request.addresses {
            guard let address = IPAddress(text) else {
                throw RPCError(code: .invalidArgument, message: "addresses: '\(text)' is not an IP address")
            }
            declared.append(address)
        }
        do {
            let issued = try await registry.join(
                tokenText: request.token, nodeName: request.nodeName, csrPEM: request.csrPem,
                declaredAddresses: declared, peer: GRPCPeer.address(context.remotePeer))
            logger.info("node joined", metadata: ["node": "\(request.nodeName)", "peer": "\(context.remotePeer)"])
            var response = Weft_Node_V1_JoinResponse()
            response.certificateChainPem = issued.certificateChainPEM
            response.trustBundlePem = registry.authority.trustBundlePEM
            response.trustDomain = registry.configuration.trustDomain
            return response
        } catch {
            logger.warning(
                "join refused",
                metadata: ["node": "\(request.nodeName)", "peer": "\(context.remotePeer)", "reason": "\(error)"])
            throw Self.rpcError(error)
        }
    }

    func trustBundle(request: Weft_Node_V1_TrustBundleRequest, context: ServerContext) async throws
        -> Weft_Node_V1_TrustBundleResponse
    {
        var response = Weft_Node_V1_TrustBundleResponse()
        response.trustBundlePem = registry.authority.trustBundlePEM
        response.trustDomain = registry.configuration.trustDomain
        return response
    }

    func signCertificate(request: Weft_Node_V1_SignCertificateRequest, context: ServerContext) async throws
        -> Weft_Node_V1_SignCertificateResponse
    {
        let node = try await authenticatedNode(context)
        let identity: SPIFFEID
        do { identity = try SPIFFEID(parsing: request.spiffeID) } catch {
            throw RPCError(code: .invalidArgument, message: error.description)
        }
        do {
            let ttl: Duration? = request.ttlSeconds > 0 ? .seconds(request.ttlSeconds) : nil
            let issued = try await registry.signCertificate(
                node: node, identity: identity, csrPEM: request.csrPem, ttl: ttl)
            var response = Weft_Node_V1_SignCertificateResponse()
            response.certificateChainPem = issued.certificateChainPEM
            response.notAfter = Int64(issued.notAfter.timeIntervalSince1970)
            return response
        } catch {
            logger.warning(
                "certificate refused", metadata: ["node": "\(node)", "identity": "\(identity)", "reason": "\(error)"])
            throw Self.rpcError(error)
        }
    }

    func register(request: Weft_Node_V1_RegisterRequest, context: ServerContext) async throws
        -> Weft_Node_V1_RegisterResponse
    {
        let node = try await authenticatedNode(context)
        var addresses: [IPAddress] = []
        for text in request.addresses {
            guard let address = IPAddress(text) else {
                throw RPCError(code: .invalidArgument, message: "addresses: '\(text)' is not an IP address")
            }
            addresses.append(address)
        }
        var services: [DiscoveredService] = []
        for service in request.services {
            let name: ServiceName
            do { name = try ServiceName(parsing: service.name) } catch {
                throw RPCError(code: .invalidArgument, message: "services.name: \(error.description)")
            }
            guard let proto = ServiceProtocol(rawValue: service.protocol.isEmpty ? "tcp" : service.protocol) else {
                throw RPCError(
                    code: .invalidArgument,
                    message: "services.\(name).protocol: '\(service.protocol)' is not tcp, http, http2 or grpc")
            }
            var endpoints: [IPSocketAddress] = []
            for endpoint in service.endpoints {
                guard let address = IPAddress(endpoint.address), let port = UInt16(exactly: endpoint.port), port > 0
                else {
                    throw RPCError(
                        code: .invalidArgument,
                        message:
                            "services.\(name).endpoints: '\(endpoint.address):\(endpoint.port)' is not an address and port"
                    )
                }
                endpoints.append(IPSocketAddress(address: address, port: port))
            }
            services.append(
                DiscoveredService(
                    name: name, protocol: proto, endpoints: endpoints, healthy: service.endpoints.map(\.healthy),
                    labels: service.labels
                )
            )
        }
        do {
            let revision = try await registry.register(
                node: node, addresses: addresses, version: request.version, services: services)
            var response = Weft_Node_V1_RegisterResponse()
            response.revision = revision
            return response
        } catch {
            throw Self.rpcError(error)
        }
    }

    func watch(
        request: RPCAsyncSequence<Weft_Node_V1_WatchRequest, any Error>,
        response: RPCWriter<Weft_Node_V1_ConfigUpdate>,
        context: ServerContext
    ) async throws {
        let node = try await authenticatedNode(context)
        try await ConfigStream(node: node, distributor: distributor).run(requests: request, response: response)
    }

    /// The node named by the client certificate, which the transport has already verified against the trust
    /// bundle; the node must still be registered (a deleted node is locked out) and its certificate not revoked.
    func authenticatedNode(_ context: ServerContext) async throws -> String {
        guard let transport = context.transportSpecific as? HTTP2ServerTransport.Posix.Context,
            let certificate = transport.peerCertificate
        else {
            throw RPCError(
                code: .unauthenticated,
                message: "this call needs the node certificate from Join (use the node listener with mTLS)")
        }
        guard let identity = SPIFFEID(certificate: certificate),
            identity.trustDomain == registry.configuration.trustDomain,
            case .node(let name) = identity.kind
        else {
            throw RPCError(
                code: .permissionDenied,
                message:
                    "the client certificate is not a node identity of trust domain \(registry.configuration.trustDomain)"
            )
        }
        guard try await registry.node(name) != nil else {
            throw RPCError(
                code: .permissionDenied,
                message: "node \(name) is not registered (deleted?): join again with a new token")
        }
        guard try await !registry.isRevoked(serial: certificate.serialHex) else {
            throw RPCError(
                code: .permissionDenied,
                message:
                    "the certificate of node \(name) (serial \(certificate.serialHex)) was revoked: join again with a new token"
            )
        }
        return name
    }

    static func rpcError(_ error: any Error) -> RPCError {
        guard let error = error as? RegistryError else { return RPCError(code: .internalError, message: "\(error)") }
        switch error {
        case .notFound: return RPCError(code: .notFound, message: error.description)
        case .staleRevision, .refusedChange: return RPCError(code: .aborted, message: error.description)
        case .invalid, .csrRejected: return RPCError(code: .invalidArgument, message: error.description)
        case .joinRefused: return RPCError(code: .unauthenticated, message: error.description)
        case .forbidden: return RPCError(code: .permissionDenied, message: error.description)
        case .vipRangeExhausted: return RPCError(code: .resourceExhausted, message: error.description)
        case .store: return RPCError(code: .unavailable, message: error.description)
        }
    }
}
