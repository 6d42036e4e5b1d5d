import NIOHPACK
import NIOHTTP1
import WeftCore

/// The HTTP/2 CONNECT request that opens one HBONE tunnel stream: `:method CONNECT`, `:authority` the endpoint's
/// `address:port`, and a request id that both nodes' access logs carry.
public struct HBONERequest: Sendable, Equatable {
    public var authority: IPSocketAddress
    public var requestID: String?

    public static let requestIDHeader = "x-request-id"

    public init(authority: IPSocketAddress, requestID: String?) {
        self.authority = authority
        self.requestID = requestID
    }

    public var headers: HPACKHeaders {
        var headers = HPACKHeaders([(":method", "CONNECT"), (":authority", authority.description)])
        if let requestID { headers.add(name: Self.requestIDHeader, value: requestID) }
        return headers
    }

    /// Why a stream's request headers are not an HBONE CONNECT.
    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case notConnect(method: String?)
        case extendedConnect
        case badAuthority(String?)

        public var description: String {
            switch self {
            case .notConnect(let method):
                "only CONNECT is served on the HBONE port, not \(method ?? "a request without :method")"
            case .extendedConnect: "CONNECT with :path, :scheme or :protocol is not an HBONE tunnel"
            case .badAuthority(let authority):
                ":authority \(authority.map { "'\($0)'" } ?? "is missing"); give ADDRESS:PORT of an endpoint"
            }
        }

        /// The HTTP status the refusal is answered with.
        public var status: HTTPResponseStatus {
            switch self {
            case .notConnect: .methodNotAllowed
            case .extendedConnect, .badAuthority: .badRequest
            }
        }
    }

    public init(parsing headers: HPACKHeaders) throws(ParseError) {
        let method = headers.first(name: ":method")
        guard method == "CONNECT" else { throw .notConnect(method: method) }
        guard headers.first(name: ":path") == nil, headers.first(name: ":scheme") == nil,
            headers.first(name: ":protocol") == nil
        else { throw .extendedConnect }
        let authority = headers.first(name: ":authority")
        guard let authority, let address = IPSocketAddress(authority), address.port != 0 else {
            throw .badAuthority(authority)
        }
        self.authority = address
        self.requestID = headers.first(name: Self.requestIDHeader)
    }
}
