import Logging
import NIOCore
import Synchronization
import WeftCore

/// The transport a query arrived on; it decides the response size limit and how the query is forwarded.
enum DNSTransport: Sendable {
    case udp
    case tcp
}

/// Counts of what the resolver did since it was created, for metrics.
public struct DNSResolverCounters: Hashable, Sendable {
    /// Queries answered from the mesh name table (including NXDOMAIN and empty answers).
    public var answeredLocally: UInt64 = 0
    /// Queries answered by an upstream server.
    public var forwarded: UInt64 = 0
    /// Queries answered with SERVFAIL because no upstream server answered in time.
    public var forwardFailures: UInt64 = 0
    /// Malformed queries: answered with FORMERR, or dropped when shorter than a header.
    public var malformed: UInt64 = 0
    /// Local answers sent with the TC bit because they did not fit the client's UDP size.
    public var truncated: UInt64 = 0
    /// Queries dropped unanswered: over the in-flight limit, or responses sent to us.
    public var dropped: UInt64 = 0
    /// Queries answered with NOTIMP (an opcode other than QUERY).
    public var notImplemented: UInt64 = 0

    public init() {}
}

/// Decides how to answer each query: from the mesh name table, by forwarding, or with an error response.
/// All results are futures on the event loop the caller passes in.
final class DNSQueryEngine: Sendable {
    let configuration: DNSResolverConfiguration
    private let meshDomain: DNSName
    private let logger: Logger
    private let names = Mutex(MeshNameTable())
    private let upstreams: Mutex<[SocketAddress]>
    private let statistics = Mutex(DNSResolverCounters())
    private let udpUpstreams = Mutex<DNSUDPUpstreams?>(nil)

    init(configuration: DNSResolverConfiguration, logger: Logger) {
        self.configuration = configuration
        self.meshDomain = configuration.meshDomainName
        self.logger = logger
        self.upstreams = Mutex([])
    }

    var counters: DNSResolverCounters { statistics.withLock { $0 } }

    func update(names table: MeshNameTable) {
        names.withLock { $0 = table }
    }

    func update(upstreams servers: [SocketAddress]) {
        upstreams.withLock { $0 = servers }
    }

    func setUDPUpstreams(_ clients: DNSUDPUpstreams?) {
        udpUpstreams.withLock { $0 = clients }
    }

    func count(_ counter: WritableKeyPath<DNSResolverCounters, UInt64>) {
        statistics.withLock { $0[keyPath: counter] += 1 }
    }

    /// The response to `query`, or nil to send nothing.
    func respond(to query: [UInt8], transport: DNSTransport, on eventLoop: any EventLoop) -> EventLoopFuture<[UInt8]?> {
        guard let header = DNSHeader(prefixOf: query) else {
            count(\.malformed)
            logger.debug("dropping DNS query shorter than a header", metadata: ["bytes": "\(query.count)"])
            return eventLoop.makeSucceededFuture(nil)
        }
        guard !header.isResponse else {
            count(\.dropped)
            return eventLoop.makeSucceededFuture(nil)
        }
        let message: DNSMessage
        do {
            message = try DNSMessage(decoding: query)
        } catch {
            count(\.malformed)
            logger.debug("malformed DNS query", metadata: ["error": "\(error)"])
            return eventLoop.makeSucceededFuture(Self.formatError(header))
        }
        let optRecords = message.additionals.filter { $0.type == .opt }
        guard message.questions.count == 1, optRecords.count <= 1, optRecords.allSatisfy({ $0.name == .root }) else {
            count(\.malformed)
            return eventLoop.makeSucceededFuture(Self.formatError(header))
        }
        let question = message.questions[0]
        guard header.opcode == .query else {
            count(\.notImplemented)
            return eventLoop.makeSucceededFuture(
                encode(response(to: message, code: .notImplemented), limit: limit(for: message, transport)))
        }
        if question.name.isSubdomain(of: meshDomain) {
            count(\.answeredLocally)
            return eventLoop.makeSucceededFuture(
                encode(meshAnswer(to: message, question: question), limit: limit(for: message, transport)))
        }
        return forward(query, message: message, question: question, transport: transport, on: eventLoop)
    }

    // MARK: Mesh answers

    private func meshAnswer(to query: DNSMessage, question: DNSQuestion) -> DNSMessage {
        if let edns = query.edns, edns.version != 0 {
            return response(to: query, code: .badVersion)
        }
        var answer = response(to: query, code: .noError)
        answer.header.isAuthoritative = true
        let relative = question.name.labels.dropLast(meshDomain.labels.count)
        guard !relative.contains(where: { $0.contains(UInt8(ascii: ".")) }) else {
            answer.header.responseCode = UInt8(DNSResponseCode.nameError.rawValue)
            return answer
        }
        let key = relative.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".")
        switch names.withLock({ $0.lookup(key) }) {
        case .notFound:
            answer.header.responseCode = UInt8(DNSResponseCode.nameError.rawValue)
        case .emptyNonTerminal:
            break
        case .found(let addresses):
            guard question.recordClass == .internet || question.recordClass == .any else { break }
            let ttl = configuration.meshTTL
            if question.type == .a || question.type == .any {
                answer.answers += addresses.filter(\.isIPv4).map { .a(question.name, $0, ttl: ttl) }
            }
            if question.type == .aaaa || question.type == .any {
                answer.answers += addresses.filter { !$0.isIPv4 }.map { .aaaa(question.name, $0, ttl: ttl) }
            }
        }
        return answer
    }

    /// A response skeleton: the query's ID, opcode, RD and CD bits and question, RA set, and an OPT record when the
    /// query had one.
    private func response(to query: DNSMessage, code: DNSResponseCode) -> DNSMessage {
        var header = DNSHeader(
            id: query.header.id, isResponse: true, opcode: query.header.opcode,
            recursionDesired: query.header.recursionDesired, recursionAvailable: true,
            checkingDisabled: query.header.checkingDisabled)
        header.responseCode = UInt8(code.rawValue & 0x0F)
        var message = DNSMessage(header: header, questions: query.questions)
        if query.edns != nil {
            let edns = DNSEDNS(
                udpPayloadSize: UInt16(configuration.maxUDPResponseSize),
                extendedResponseCode: UInt8(code.rawValue >> 4))
            message.additionals = [edns.record]
        }
        return message
    }

    /// The largest response the client accepts: 512 over UDP, or its EDNS size capped at our own limit; 65535 over TCP.
    private func limit(for query: DNSMessage, _ transport: DNSTransport) -> Int {
        switch transport {
        case .tcp:
            return 65_535
        case .udp:
            guard let edns = query.edns else { return 512 }
            return max(512, min(Int(edns.udpPayloadSize), configuration.maxUDPResponseSize))
        }
    }

    /// Encodes a response; when it does not fit `limit`, drops the records (keeping the question and OPT) and sets TC.
    private func encode(_ response: DNSMessage, limit: Int) -> [UInt8]? {
        do {
            let bytes = try response.encoded()
            if bytes.count <= limit { return bytes }
            count(\.truncated)
            var truncated = response
            truncated.header.isTruncated = true
            truncated.answers = []
            truncated.authorities = []
            truncated.additionals = response.additionals.filter { $0.type == .opt }
            return try truncated.encoded()
        } catch {
            logger.error("cannot encode DNS response", metadata: ["error": "\(error)"])
            return nil
        }
    }

    static func formatError(_ query: DNSHeader) -> [UInt8] {
        let header = DNSHeader(
            id: query.id, isResponse: true, opcode: query.opcode, recursionDesired: query.recursionDesired,
            recursionAvailable: true, responseCode: UInt8(DNSResponseCode.formatError.rawValue))
        return (try? DNSMessage(header: header).encoded()) ?? []
    }

    // MARK: Forwarding

    private func forward(
        _ query: [UInt8], message: DNSMessage, question: DNSQuestion, transport: DNSTransport,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<[UInt8]?> {
        let servers = upstreams.withLock { $0 }
        let timeout = TimeAmount(configuration.upstreamTimeout)
        let attempt: @Sendable (SocketAddress) -> EventLoopFuture<[UInt8]>
        switch transport {
        case .udp:
            let clients = udpUpstreams.withLock { $0 }
            attempt = { server in
                guard let clients else {
                    return eventLoop.makeFailedFuture(DNSForwardingError.notRunning)
                }
                return clients.query(query, question: question, to: server, timeout: timeout)
            }
        case .tcp:
            let mark = configuration.socketMark
            attempt = { server in
                DNSTCPUpstream.query(
                    query, question: question, to: server, timeout: timeout, socketMark: mark, on: eventLoop)
            }
        }
        let clientID = message.header.id
        return Self.tryInOrder(servers[...], attempt: attempt, logger: logger, on: eventLoop).map {
            [self] answer -> [UInt8]? in
            guard var answer else {
                count(\.forwardFailures)
                return encode(response(to: message, code: .serverFailure), limit: limit(for: message, transport))
            }
            count(\.forwarded)
            answer[0] = UInt8(clientID >> 8)
            answer[1] = UInt8(clientID & 0xFF)
            return answer
        }
    }

    /// Asks each server in turn until one answers with something other than SERVFAIL, REFUSED or NOTIMP; returns
    /// the last such answer if that is all there is, nil if no server answered at all.
    private static func tryInOrder(
        _ servers: ArraySlice<SocketAddress>, attempt: @escaping @Sendable (SocketAddress) -> EventLoopFuture<[UInt8]>,
        logger: Logger, on eventLoop: any EventLoop, fallback: [UInt8]? = nil
    ) -> EventLoopFuture<[UInt8]?> {
        guard let server = servers.first else { return eventLoop.makeSucceededFuture(fallback) }
        let rest = servers.dropFirst()
        return attempt(server).hop(to: eventLoop).flatMap { answer -> EventLoopFuture<[UInt8]?> in
            let code = answer[3] & 0x0F
            let retryable = code == 2 || code == 4 || code == 5
            if retryable && !rest.isEmpty {
                return tryInOrder(rest, attempt: attempt, logger: logger, on: eventLoop, fallback: answer)
            }
            return eventLoop.makeSucceededFuture(answer)
        }.flatMapError { error in
            logger.debug("upstream DNS server did not answer", metadata: ["server": "\(server)", "error": "\(error)"])
            return tryInOrder(rest, attempt: attempt, logger: logger, on: eventLoop, fallback: fallback)
        }
    }
}

/// Why one attempt to ask an upstream server failed (the resolver then tries the next one).
enum DNSForwardingError: Error, CustomStringConvertible {
    case notRunning
    case timedOut
    case tooManyOutstandingQueries
    case noAddressFamily
    case connectionClosed

    var description: String {
        switch self {
        case .notRunning: return "the resolver is not running"
        case .timedOut: return "the upstream server did not answer in time"
        case .tooManyOutstandingQueries: return "too many upstream queries outstanding"
        case .noAddressFamily: return "no upstream socket for this address family"
        case .connectionClosed: return "the upstream server closed the connection without answering"
        }
    }
}
