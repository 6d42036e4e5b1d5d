import NIOHPACK
import NIOHTTP1
import Testing
import WeftCore

@testable import WeftProxy

@Suite struct HBONERequestTests {
    private func parse(_ fields: [(String, String)]) -> Result<HBONERequest, HBONERequest.ParseError> {
        Result { () throws(HBONERequest.ParseError) in try HBONERequest(parsing: HPACKHeaders(fields)) }
    }

    @Test func connectWithAnIPv4AuthorityAndARequestID() throws {
        let request = try parse([(":method", "CONNECT"), (":authority", "198.18.0.12:8080"), ("x-request-id", "r-1")])
            .get()
        #expect(request.authority == IPSocketAddress("198.18.0.12:8080")!)
        #expect(request.requestID == "r-1")
    }

    @Test func connectWithABracketedIPv6Authority() throws {
        let request = try parse([(":method", "CONNECT"), (":authority", "[2001:2::12]:8080")]).get()
        #expect(request.authority == IPSocketAddress(address: IPAddress("2001:2::12")!, port: 8080))
        #expect(request.requestID == nil)
    }

    @Test(arguments: ["GET", "POST", "connect"])
    func otherMethodsAreNotConnect(method: String) {
        let result = parse([
            (":method", method), (":authority", "198.18.0.12:8080"), (":path", "/"), (":scheme", "https"),
        ])
        #expect(result.failure == .notConnect(method: method))
        #expect(result.failure?.status == .methodNotAllowed)
    }

    @Test func aRequestWithoutMethodIsNotConnect() {
        let failure = parse([(":authority", "198.18.0.12:8080")]).failure
        #expect(failure == .notConnect(method: nil))
        #expect(failure?.status == .methodNotAllowed)
    }

    @Test(arguments: [(":protocol", "websocket"), (":path", "/"), (":scheme", "https")])
    func extendedConnectIsRefused(header: (String, String)) {
        let failure = parse([(":method", "CONNECT"), (":authority", "198.18.0.12:8080"), header]).failure
        #expect(failure == .extendedConnect)
        #expect(failure?.status == .badRequest)
    }

    @Test func aMissingAuthorityIsRefused() {
        let failure = parse([(":method", "CONNECT")]).failure
        #expect(failure == .badAuthority(nil))
        #expect(failure?.status == .badRequest)
        #expect(failure?.description.contains("missing") == true)
    }

    @Test(arguments: [
        "backend.weft:80", "198.18.0.12", "198.18.0.12:0", "198.18.0.12:65536", "[2001:2::12]", "[2001:2::12]:0",
        "2001:2::12:8080", "[198.18.0.12]:8080", "",
    ])
    func badAuthoritiesAreRefused(authority: String) {
        let failure = parse([(":method", "CONNECT"), (":authority", authority)]).failure
        #expect(failure == .badAuthority(authority))
        #expect(failure?.status == .badRequest)
    }

    @Test(arguments: [
        HBONERequest(authority: IPSocketAddress("198.18.0.12:8080")!, requestID: "0f6c1d2e"),
        HBONERequest(authority: IPSocketAddress("[2001:2::12]:443")!, requestID: nil),
    ])
    func headersRoundTrip(request: HBONERequest) throws {
        let headers = request.headers
        #expect(headers.first(name: ":method") == "CONNECT")
        #expect(headers.first(name: ":path") == nil && headers.first(name: ":scheme") == nil)
        #expect(headers[HBONERequest.requestIDHeader].count == (request.requestID == nil ? 0 : 1))
        #expect(try HBONERequest(parsing: headers) == request)
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
