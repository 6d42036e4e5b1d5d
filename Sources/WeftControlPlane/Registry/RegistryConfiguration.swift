import WeftCore

/// The registry's knobs, with the defaults weftd starts with.
public struct RegistryConfiguration: Sendable {
    public var trustDomain: String
    public var vipRange: IPCIDR
    /// Default lifetime of workload certificates.
    public var workloadCertificateTTL: Duration
    /// Lifetime of node certificates.
    public var nodeCertificateTTL: Duration
    /// A node not seen for this long is marked down and its endpoints are withdrawn.
    public var nodeTimeout: Duration
    /// How many services one node may run only clients of (registered without endpoints).
    public var clientWorkloadLimit: Int

    public init(
        trustDomain: String = SPIFFEID.defaultTrustDomain, vipRange: IPCIDR = NodeConfig.defaultVIPRange,
        workloadCertificateTTL: Duration = .seconds(24 * 3600), nodeCertificateTTL: Duration = .seconds(7 * 24 * 3600),
        nodeTimeout: Duration = .seconds(60), clientWorkloadLimit: Int = 32
    ) {
        self.clientWorkloadLimit = clientWorkloadLimit
        self.trustDomain = trustDomain
        self.vipRange = vipRange
        self.workloadCertificateTTL = workloadCertificateTTL
        self.nodeCertificateTTL = nodeCertificateTTL
        self.nodeTimeout = nodeTimeout
    }

    public static let minimumCertificateTTL: Duration = .seconds(60)

    /// Throws the first setting that cannot work.
    public func validate() throws(RegistryError) {
        guard SPIFFEID.isValidTrustDomain(trustDomain) else {
            throw .invalid(field: "trust_domain", reason: "'\(trustDomain)' is not a valid SPIFFE trust domain")
        }
        guard vipRange.network.isIPv4, vipRange.prefixLength <= 30 else {
            throw .invalid(field: "vip_range", reason: "\(vipRange) must be an IPv4 range of at least 4 addresses")
        }
        for (field, ttl) in [
            ("workload_certificate_ttl", workloadCertificateTTL), ("node_certificate_ttl", nodeCertificateTTL),
        ]
        where ttl < Self.minimumCertificateTTL {
            throw .invalid(field: field, reason: "must be at least 1 minute")
        }
        guard nodeTimeout >= NodeLinkKeepalive.heartbeatInterval * 3 / 2 else {
            throw .invalid(
                field: "node_timeout",
                reason:
                    "must be at least 3 seconds: nodes send a heartbeat every \(NodeLinkKeepalive.heartbeatInterval)")
        }
    }
}
