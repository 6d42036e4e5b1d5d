import GRPCCore
import GRPCNIOTransportHTTP2
import WeftAPI
import WeftCore
import WeftIdentity
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a node holds after joining: its certificate and key, and the mesh's trust bundle.
public struct NodeCredentials: Sendable, Codable, Equatable {
    public var nodeName: String
    public var trustDomain: String
    public var certificateChainPEM: String
    public var privateKeyPEM: String
    public var trustBundlePEM: String

    public init(
        nodeName: String, trustDomain: String, certificateChainPEM: String, privateKeyPEM: String,
        trustBundlePEM: String
    ) {
        self.nodeName = nodeName
        self.trustDomain = trustDomain
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
        self.trustBundlePEM = trustBundlePEM
    }

    enum CodingKeys: String, CodingKey {
        case nodeName = "node_name"
        case trustDomain = "trust_domain"
        case certificateChainPEM = "certificate_chain_pem"
        case privateKeyPEM = "private_key_pem"
        case trustBundlePEM = "trust_bundle_pem"
    }
}

public enum ControlPlaneClientError: Error, CustomStringConvertible {
    case invalidToken
    case fingerprintMismatch(expected: String, found: String)
    case refused(String)
    case unreachable(String)

    public var description: String {
        switch self {
        case .invalidToken: return "the join token is not a Weft join token (weftjoin.<id>.<secret>.<ca>)"
        case .fingerprintMismatch(let expected, let found):
            return
                "the control plane's CA (\(found.prefix(16))…) is not the one the token names (\(expected.prefix(16))…): wrong address, or someone in between"
        case .refused(let reason): return reason
        case .unreachable(let reason): return "the control plane is unreachable: \(reason)"
        }
    }

    static func from(_ error: any Error) -> ControlPlaneClientError {
        if let error = error as? ControlPlaneClientError { return error }
        if let rpc = error as? RPCError {
            switch rpc.code {
            case .unavailable, .deadlineExceeded: return .unreachable(rpc.message)
            default: return .refused(rpc.message)
            }
        }
        return .unreachable("\(error)")
    }
}

/// The node's side of the node API's join listener.
public enum ControlPlaneJoin {
    /// Joins the mesh: reads the trust bundle without trusting it, checks it against the fingerprint in the token
    /// (so a node never trusts a control plane the admin did not mean), then, now verifying the server, exchanges
    /// the token and a CSR (the key is made here and never leaves) for the node certificate. `addresses` are the
    /// node's (the control plane fixes them at join unless the token names them).
    public static func join(
        address: IPSocketAddress, token tokenText: String, nodeName: String, addresses: [IPAddress] = []
    ) async throws(ControlPlaneClientError) -> NodeCredentials {
        let parts = tokenText.trimmingWhitespace().split(separator: ".").map(String.init)
        guard parts.count == 4, parts[0] == "weftjoin" else { throw .invalidToken }
        let pinned = parts[3]
        do {
            let bundle = try await withGRPCClient(
                transport: try .http2NIOPosix(
                    target: NodeAPIAddress.target(address),
                    transportSecurity: .tls { $0.serverCertificateVerification = .noVerification }
                )
            ) { client in
                try await Weft_Node_V1_NodeService.Client(wrapping: client).trustBundle(
                    Weft_Node_V1_TrustBundleRequest())
            }
            let roots = try PEM.certificates(fromPEM: bundle.trustBundlePem, source: "the control plane's trust bundle")
            let found = trustBundleFingerprint(roots)
            guard found == pinned else {
                throw ControlPlaneClientError.fingerprintMismatch(expected: pinned, found: found)
            }

            let identity = SPIFFEID.node(trustDomain: bundle.trustDomain, name: nodeName)
            let request = try CertificateRequestFactory.make(for: identity)
            var join = Weft_Node_V1_JoinRequest()
            join.token = tokenText
            join.nodeName = nodeName
            join.csrPem = request.csrPEM
            join.addresses = addresses.map(\.description)
            let response = try await withGRPCClient(
                transport: try .http2NIOPosix(
                    target: NodeAPIAddress.target(address),
                    transportSecurity: .tls {
                        $0.trustRoots = .certificates([.bytes(Array(bundle.trustBundlePem.utf8), format: .pem)])
                    }
                )
            ) { client in
                try await Weft_Node_V1_NodeService.Client(wrapping: client).join(join)
            }
            return NodeCredentials(
                nodeName: nodeName, trustDomain: response.trustDomain,
                certificateChainPEM: response.certificateChainPem,
                privateKeyPEM: request.privateKeyPEM, trustBundlePEM: response.trustBundlePem
            )
        } catch {
            throw ControlPlaneClientError.from(error)
        }
    }
}

enum NodeAPIAddress {
    static func target(_ address: IPSocketAddress) -> any ResolvableTarget {
        address.address.isIPv4
            ? .ipv4(address: address.address.description, port: Int(address.port))
            : .ipv6(address: address.address.description, port: Int(address.port))
    }
}
