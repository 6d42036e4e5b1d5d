import WeftCore

/// Everything the node's DNS resolver needs, as a plain value with the defaults the node uses.
public struct DNSResolverConfiguration: Hashable, Sendable {
    /// Addresses to listen on, UDP and TCP each. Port 0 picks a free port, the same for UDP and TCP.
    public var listenAddresses: [IPSocketAddress]
    /// The domain whose names are answered from the mesh name table (one or more labels, e.g. `weft`).
    public var meshDomain: String
    /// TTL of mesh answers, in seconds.
    public var meshTTL: UInt32
    /// Servers that answer everything outside the mesh domain, tried in order. Any that is one of our own listen
    /// addresses is skipped. Usually `ResolvConf.load().nameservers`.
    public var upstreams: [IPSocketAddress]
    /// How long to wait for one upstream before trying the next.
    public var upstreamTimeout: Duration
    /// SO_MARK for upstream sockets, so the capture rules let them pass. Needs CAP_NET_ADMIN.
    public var socketMark: UInt32?
    /// A TCP client connection that sends nothing for this long is closed.
    public var tcpIdleTimeout: Duration
    /// Largest query accepted over TCP; a longer length prefix closes the connection.
    public var maxTCPQuerySize: Int
    /// Largest UDP response we send from our own answers, whatever a client's EDNS buffer size claims (RFC 9715 advises 1232).
    public var maxUDPResponseSize: Int
    /// UDP queries in flight at once per listen address; more are dropped (the client retries).
    public var maxConcurrentUDPQueries: Int
    /// Queries in flight at once on one TCP connection; the resolver stops reading until one completes.
    public var maxPipelinedTCPQueries: Int
    /// Upstream UDP queries outstanding at once (per address family); more fail with SERVFAIL.
    public var maxOutstandingUpstreamQueries: Int

    public static let defaultListenAddresses = [
        IPSocketAddress(address: .v4(0x7F00_0001), port: WeftPort.dns.rawValue),
        IPSocketAddress(address: .v6(0, 1), port: WeftPort.dns.rawValue),
    ]

    public init(
        listenAddresses: [IPSocketAddress] = Self.defaultListenAddresses,
        meshDomain: String = "weft",
        meshTTL: UInt32 = 5,
        upstreams: [IPSocketAddress] = [],
        upstreamTimeout: Duration = .seconds(2),
        socketMark: UInt32? = nil,
        tcpIdleTimeout: Duration = .seconds(10),
        maxTCPQuerySize: Int = 16_384,
        maxUDPResponseSize: Int = 1232,
        maxConcurrentUDPQueries: Int = 1024,
        maxPipelinedTCPQueries: Int = 16,
        maxOutstandingUpstreamQueries: Int = 4096
    ) {
        self.listenAddresses = listenAddresses
        self.meshDomain = meshDomain
        self.meshTTL = meshTTL
        self.upstreams = upstreams
        self.upstreamTimeout = upstreamTimeout
        self.socketMark = socketMark
        self.tcpIdleTimeout = tcpIdleTimeout
        self.maxTCPQuerySize = maxTCPQuerySize
        self.maxUDPResponseSize = maxUDPResponseSize
        self.maxConcurrentUDPQueries = maxConcurrentUDPQueries
        self.maxPipelinedTCPQueries = maxPipelinedTCPQueries
        self.maxOutstandingUpstreamQueries = maxOutstandingUpstreamQueries
    }

    /// Throws the first problem found, with a message that says what to change.
    public func validate() throws(DNSResolverConfigurationError) {
        guard !listenAddresses.isEmpty else { throw .noListenAddresses }
        if let duplicate = listenAddresses.enumerated().first(where: {
            listenAddresses[..<$0.offset].contains($0.element)
        }) {
            throw .duplicateListenAddress(duplicate.element)
        }
        let labels = meshDomain.split(separator: ".", omittingEmptySubsequences: false)
        guard !meshDomain.isEmpty, labels.allSatisfy({ DNSLabel.isValid(String($0)) }),
            meshDomain.utf8.count + 2 <= DNSName.maxWireLength
        else { throw .invalidMeshDomain(meshDomain) }
        guard meshTTL <= 86_400 else { throw .meshTTLTooLong(meshTTL) }
        if let bad = upstreams.first(where: { $0.port == 0 }) { throw .invalidUpstream(bad) }
        guard upstreamTimeout > .zero, upstreamTimeout <= .seconds(60) else {
            throw .invalidUpstreamTimeout(upstreamTimeout)
        }
        guard tcpIdleTimeout > .zero, tcpIdleTimeout <= .seconds(3600) else {
            throw .invalidIdleTimeout(tcpIdleTimeout)
        }
        guard (512...65_535).contains(maxTCPQuerySize) else {
            throw .outOfRange("maxTCPQuerySize", maxTCPQuerySize, 512...65_535)
        }
        guard (512...65_535).contains(maxUDPResponseSize) else {
            throw .outOfRange("maxUDPResponseSize", maxUDPResponseSize, 512...65_535)
        }
        guard (1...65_536).contains(maxConcurrentUDPQueries) else {
            throw .outOfRange("maxConcurrentUDPQueries", maxConcurrentUDPQueries, 1...65_536)
        }
        guard (1...1024).contains(maxPipelinedTCPQueries) else {
            throw .outOfRange("maxPipelinedTCPQueries", maxPipelinedTCPQueries, 1...1024)
        }
        guard (1...32_768).contains(maxOutstandingUpstreamQueries) else {
            throw .outOfRange("maxOutstandingUpstreamQueries", maxOutstandingUpstreamQueries, 1...32_768)
        }
    }

    /// The mesh domain as a name; valid after `validate()`.
    var meshDomainName: DNSName {
        (try? DNSName(meshDomain)) ?? .root
    }
}

/// A problem with a `DNSResolverConfiguration`.
public enum DNSResolverConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    case noListenAddresses
    case duplicateListenAddress(IPSocketAddress)
    case invalidMeshDomain(String)
    case meshTTLTooLong(UInt32)
    case invalidUpstream(IPSocketAddress)
    case invalidUpstreamTimeout(Duration)
    case invalidIdleTimeout(Duration)
    case outOfRange(String, Int, ClosedRange<Int>)

    public var description: String {
        switch self {
        case .noListenAddresses:
            return "the DNS resolver needs at least one listen address (default 127.0.0.1:15053 and [::1]:15053)"
        case .duplicateListenAddress(let address):
            return "DNS listen address \(address) is given twice"
        case .invalidMeshDomain(let domain):
            return "'\(domain)' is not a valid mesh domain: use one or more DNS labels separated by dots, e.g. 'weft'"
        case .meshTTLTooLong(let ttl):
            return
                "mesh DNS TTL \(ttl) s is too long: use at most 86400 s (names change at run time; the default is 5 s)"
        case .invalidUpstream(let address):
            return "upstream DNS server \(address) has port 0: give the server's port (usually 53)"
        case .invalidUpstreamTimeout(let timeout):
            return "upstream DNS timeout \(timeout) must be more than 0 and at most 60 s"
        case .invalidIdleTimeout(let timeout):
            return "DNS TCP idle timeout \(timeout) must be more than 0 and at most 3600 s"
        case .outOfRange(let name, let value, let range):
            return
                "DNS resolver setting \(name) = \(value) is out of range: use \(range.lowerBound)…\(range.upperBound)"
        }
    }
}
