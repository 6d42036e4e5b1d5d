import Crypto
import Foundation
import SwiftASN1
import Testing
import WeftCore
import WeftIdentity
import X509

/// One CSR the CA must refuse, and the reason it must give.
struct RejectedRequest: Sendable, CustomTestStringConvertible {
    let name: String
    var identity: SPIFFEID = Fixture.cart
    var ttl: Duration = .seconds(3_600)
    let csr: @Sendable () throws -> [UInt8]
    /// nil: any `.unparsableCSR`, whatever the parser's wording.
    let expected: CSRRejection?

    var testDescription: String { name }
}

@Suite struct CSRRejectionTests {
    static let cartURI = "spiffe://weft.local/ns/shop/svc/cart"
    static let paymentsURI = "spiffe://weft.local/ns/shop/svc/payments"

    static let cases: [RejectedRequest] = [
        RejectedRequest(
            name: "another service's URI",
            csr: { try Fixture.csr(names: [.uniformResourceIdentifier(paymentsURI)]) },
            expected: .identityMismatch(requested: paymentsURI, allowed: cartURI)
        ),
        RejectedRequest(
            name: "an extra URI SAN",
            csr: {
                try Fixture.csr(names: [.uniformResourceIdentifier(cartURI), .uniformResourceIdentifier(paymentsURI)])
            },
            expected: .multipleURIs([cartURI, paymentsURI])
        ),
        RejectedRequest(
            name: "the same URI twice",
            csr: {
                try Fixture.csr(names: [.uniformResourceIdentifier(cartURI), .uniformResourceIdentifier(cartURI)])
            },
            expected: .multipleURIs([cartURI, cartURI])
        ),
        RejectedRequest(
            name: "a DNS SAN",
            csr: { try Fixture.csr(names: [.uniformResourceIdentifier(cartURI), .dnsName("cart.shop.weft")]) },
            expected: .dnsNameNotAllowed("cart.shop.weft")
        ),
        RejectedRequest(
            name: "an IP SAN",
            csr: { try Fixture.csr(names: [.uniformResourceIdentifier(cartURI), Fixture.ipSAN("10.0.0.1")]) },
            expected: .ipAddressNotAllowed("10.0.0.1")
        ),
        RejectedRequest(
            name: "an IPv6 SAN alone",
            csr: { try Fixture.csr(names: [Fixture.ipSAN("fd00::1")]) },
            expected: .ipAddressNotAllowed("fd00::1")
        ),
        RejectedRequest(
            name: "an email SAN",
            csr: { try Fixture.csr(names: [.uniformResourceIdentifier(cartURI), .rfc822Name("ops@example.com")]) },
            expected: .emailAddressNotAllowed("ops@example.com")
        ),
        RejectedRequest(
            name: "a wildcard service",
            csr: { try Fixture.csr(names: [.uniformResourceIdentifier("spiffe://weft.local/ns/shop/svc/*")]) },
            expected: .wildcardURI("spiffe://weft.local/ns/shop/svc/*")
        ),
        RejectedRequest(
            name: "a wildcard namespace",
            csr: { try Fixture.csr(names: [.uniformResourceIdentifier("spiffe://weft.local/ns/*/svc/cart")]) },
            expected: .wildcardURI("spiffe://weft.local/ns/*/svc/cart")
        ),
        RejectedRequest(
            name: "the URI in another trust domain",
            csr: { try Fixture.csr(names: [.uniformResourceIdentifier("spiffe://evil.example/ns/shop/svc/cart")]) },
            expected: .identityMismatch(requested: "spiffe://evil.example/ns/shop/svc/cart", allowed: cartURI)
        ),
        RejectedRequest(
            name: "an identity in another trust domain",
            identity: .workload(trustDomain: "evil.example", namespace: "shop", service: "cart"),
            csr: { try Fixture.csr(names: [.uniformResourceIdentifier("spiffe://evil.example/ns/shop/svc/cart")]) },
            expected: .foreignTrustDomain(identity: "spiffe://evil.example/ns/shop/svc/cart", trustDomain: "weft.local")
        ),
        RejectedRequest(
            name: "an identity that is not a valid SPIFFE ID",
            identity: .workload(trustDomain: "weft.local", namespace: "shop", service: "Cart_Service"),
            csr: {
                try Fixture.csr(names: [.uniformResourceIdentifier("spiffe://weft.local/ns/shop/svc/Cart_Service")])
            },
            expected: .invalidIdentity("spiffe://weft.local/ns/shop/svc/Cart_Service")
        ),
        RejectedRequest(
            name: "no extension request",
            csr: { try Fixture.csr(names: nil) },
            expected: .missingSubjectAlternativeName
        ),
        RejectedRequest(
            name: "extensions without a SAN",
            csr: { try Fixture.csrWithoutSAN() },
            expected: .missingSubjectAlternativeName
        ),
        RejectedRequest(
            name: "a P-384 key",
            csr: {
                try Fixture.csr(names: [.uniformResourceIdentifier(cartURI)], key: .init(P384.Signing.PrivateKey()))
            },
            expected: .unsupportedKey(found: "ECDSA P-384")
        ),
        RejectedRequest(
            name: "an Ed25519 key",
            csr: {
                try Fixture.csr(
                    names: [.uniformResourceIdentifier(cartURI)], key: .init(Curve25519.Signing.PrivateKey()))
            },
            expected: .unsupportedKey(found: "Ed25519")
        ),
        RejectedRequest(
            name: "a tampered signature",
            csr: {
                // The last byte of a CSR is the last byte of the ECDSA signature's s value.
                var der = try CertificateRequestFactory.make(for: Fixture.cart).csrDER
                der[der.count - 1] ^= 0x01
                return der
            },
            expected: .invalidSignature
        ),
        RejectedRequest(
            name: "a CSR signed by another key",
            csr: {
                let signed = try CertificateSigningRequest(
                    derEncoded: CertificateRequestFactory.make(for: Fixture.cart).csrDER)
                let other = try CertificateSigningRequest(
                    derEncoded: CertificateRequestFactory.make(for: Fixture.cart).csrDER)
                let forged = try CertificateSigningRequest(
                    version: .v1,
                    subject: signed.subject,
                    publicKey: signed.publicKey,
                    attributes: signed.attributes,
                    signatureAlgorithm: other.signatureAlgorithm,
                    signature: other.signature
                )
                return try Fixture.der(forged)
            },
            expected: .invalidSignature
        ),
        RejectedRequest(name: "garbage bytes", csr: { [0x30, 0x82, 0xFF, 0xFF, 0x01, 0x02, 0x03] }, expected: nil),
        RejectedRequest(name: "no bytes", csr: { [] }, expected: nil),
        RejectedRequest(
            name: "a certificate instead of a CSR",
            csr: {
                PEM.derBytes(
                    of: try CertificateAuthority.generateRoot(trustDomain: "weft.local", now: Fixture.now).certificate)
            },
            expected: nil
        ),
        RejectedRequest(
            name: "a lifetime under one minute",
            ttl: .seconds(59),
            csr: { try CertificateRequestFactory.make(for: Fixture.cart).csrDER },
            expected: .ttlOutOfRange(requested: .seconds(59), minimum: .seconds(60), maximum: .seconds(365 * 86_400))
        ),
        RejectedRequest(
            name: "a lifetime over a year",
            ttl: .seconds(366 * 86_400),
            csr: { try CertificateRequestFactory.make(for: Fixture.cart).csrDER },
            expected: .ttlOutOfRange(
                requested: .seconds(366 * 86_400), minimum: .seconds(60), maximum: .seconds(365 * 86_400))
        ),
    ]

    let ca: CertificateAuthority

    init() throws {
        ca = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: Fixture.now)
    }

    @Test(arguments: cases) func refuses(_ request: RejectedRequest) throws {
        let csr = try request.csr()
        let error = #expect(throws: CSRRejection.self) {
            try ca.issueWorkloadCertificate(csrDER: csr, for: request.identity, ttl: request.ttl, now: Fixture.now)
        }
        if let expected = request.expected {
            #expect(error == expected)
        } else {
            guard case .unparsableCSR = error else {
                Issue.record("expected .unparsableCSR, got \(String(describing: error))")
                return
            }
        }
    }

    @Test func theValidCounterpartOfTheTableIsIssued() throws {
        // Guards the table: the same CA, identity, time and builder issue when the request is right.
        let csr = try Fixture.csr(names: [.uniformResourceIdentifier(Self.cartURI)])
        let issued = try ca.issueWorkloadCertificate(
            csrDER: csr, for: Fixture.cart, ttl: .seconds(60), now: Fixture.now)
        #expect(issued.identity == Fixture.cart)
    }

    @Test func pemInputIsChecked() throws {
        let request = try CertificateRequestFactory.make(for: Fixture.cart)
        #expect(throws: Never.self) {
            try ca.issueWorkloadCertificate(
                csrPEM: request.csrPEM, for: Fixture.cart, ttl: .seconds(60), now: Fixture.now)
        }
        for text in ["", "hello", request.privateKeyPEM, ca.certificatePEM, request.csrPEM + request.csrPEM] {
            let error = #expect(throws: CSRRejection.self) {
                try ca.issueWorkloadCertificate(csrPEM: text, for: Fixture.cart, ttl: .seconds(60), now: Fixture.now)
            }
            guard case .unparsableCSR = error else {
                Issue.record("expected .unparsableCSR for \(text.prefix(30)), got \(String(describing: error))")
                continue
            }
        }
    }

    @Test func messagesSayWhatWasAskedAndWhatIsAllowed() {
        let mismatch = CSRRejection.identityMismatch(requested: Self.paymentsURI, allowed: Self.cartURI).description
        #expect(mismatch.contains(Self.paymentsURI) && mismatch.contains(Self.cartURI))
        let ttl = CSRRejection.ttlOutOfRange(
            requested: .seconds(30), minimum: .seconds(60), maximum: .seconds(365 * 86_400)
        ).description
        #expect(ttl.contains("30 seconds") && ttl.contains("1 minute") && ttl.contains("365 days"))
        #expect(CSRRejection.unsupportedKey(found: "ECDSA P-384").description.contains("P-256"))
        #expect(CSRRejection.dnsNameNotAllowed("a.example").description.contains("a.example"))
    }
}
