import Crypto
import Foundation
import Testing
import WeftCore
import WeftIdentity
import X509

@Suite struct VerificationTests {
    let now = Fixture.now
    let ca: CertificateAuthority
    let issued: IssuedCertificate

    init() throws {
        ca = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: Fixture.now)
        let request = try CertificateRequestFactory.make(for: Fixture.cart)
        issued = try ca.issueWorkloadCertificate(
            csrDER: request.csrDER, for: Fixture.cart, ttl: .seconds(600), now: Fixture.now)
    }

    @Test func acceptsTheLeafWhileItIsValid() async throws {
        for time in [now - 299, now, now + 599] {
            let peer = try await verifyChain(
                leafAndIntermediates: [issued.leaf], trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain,
                now: time)
            #expect(peer == Fixture.cart)
        }
    }

    @Test func refusesAnExpiredOrNotYetValidLeaf() async throws {
        for time in [now + 601, now - 301] {
            let error = await #expect(throws: PeerVerificationError.self) {
                try await verifyChain(
                    leafAndIntermediates: [issued.leaf], trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain,
                    now: time)
            }
            guard case .untrusted(identity: Fixture.cart.description, _) = error else {
                Issue.record("expected .untrusted at \(time), got \(String(describing: error))")
                continue
            }
        }
    }

    @Test func refusesALeafFromAnotherCA() async throws {
        let other = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        let error = await #expect(throws: PeerVerificationError.self) {
            try await verifyChain(
                leafAndIntermediates: [issued.leaf], trustBundle: other.trustBundle, trustDomain: Fixture.trustDomain,
                now: now)
        }
        guard case .untrusted = error else {
            Issue.record("expected .untrusted, got \(String(describing: error))")
            return
        }
    }

    @Test func refusesAnotherTrustDomain() async throws {
        await #expect(
            throws: PeerVerificationError.foreignTrustDomain(
                identity: Fixture.cart.description, expected: "prod.example")
        ) {
            try await verifyChain(
                leafAndIntermediates: [issued.leaf], trustBundle: ca.trustBundle, trustDomain: "prod.example", now: now)
        }
    }

    @Test func refusesCertificatesThatAreNotSVIDs() async throws {
        await #expect(throws: PeerVerificationError.noCertificate) {
            try await verifyChain(
                leafAndIntermediates: [], trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain, now: now)
        }
        await #expect(throws: PeerVerificationError.notALeafCertificate(subject: "CN=Weft root CA,O=weft.local")) {
            try await verifyChain(
                leafAndIntermediates: [ca.certificate], trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain,
                now: now)
        }
        let server = try ca.issueServerCertificate(
            dnsNames: ["weftd.example"], ipAddresses: [], ttl: .seconds(600), now: now)
        let serverLeaf = try PEM.certificates(fromPEM: server.certificateChainPEM)[0]
        await #expect(throws: PeerVerificationError.noSPIFFEID(uris: [])) {
            try await verifyChain(
                leafAndIntermediates: [serverLeaf], trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain,
                now: now)
        }
    }

    @Test func aForgedLeafWithTwoURIsIsRefusedEvenIfSigned() async throws {
        // Signed by the real CA key, bypassing the CSR checks: the verifier must still insist on one URI.
        let key = P256.Signing.PrivateKey()
        let extensions = try Certificate.Extensions {
            Critical(
                SubjectAlternativeNames([
                    .uniformResourceIdentifier(Fixture.cart.description),
                    .uniformResourceIdentifier(Fixture.payments.description),
                ]))
            Critical(BasicConstraints.notCertificateAuthority)
        }
        let forged = try Certificate(
            version: .v3,
            serialNumber: .init(),
            publicKey: .init(key.publicKey),
            notValidBefore: now - 60,
            notValidAfter: now + 600,
            issuer: ca.certificate.subject,
            subject: DistinguishedName(),
            extensions: extensions,
            issuerPrivateKey: try Fixture.signingKey(of: ca)
        )
        #expect(SPIFFEID(certificate: forged) == nil)
        await #expect(
            throws: PeerVerificationError.noSPIFFEID(uris: [Fixture.cart.description, Fixture.payments.description])
        ) {
            try await verifyChain(
                leafAndIntermediates: [forged], trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain, now: now)
        }
    }

    @Test func pemBundlesSplitIntoCertificates() throws {
        let other = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        let bundle = "# roots\n" + ca.trustBundlePEM + "\n" + other.trustBundlePEM
        #expect(try PEM.certificates(fromPEM: bundle) == [ca.certificate, other.certificate])
        #expect(try PEM.certificate(fromPEM: ca.certificatePEM) == ca.certificate)
        #expect(throws: IdentityError.self) { try PEM.certificate(fromPEM: bundle) }
        #expect(
            throws: IdentityError.unexpectedPEMBlock(
                source: "the trust bundle", found: "PRIVATE KEY", expected: "CERTIFICATE")
        ) {
            try PEM.certificates(fromPEM: ca.trustBundlePEM + ca.privateKeyPEM, source: "the trust bundle")
        }
        #expect(throws: IdentityError.noPEMBlock(source: "the PEM input", expected: "CERTIFICATE")) {
            try PEM.certificates(fromPEM: "")
        }
    }
}

@Suite struct ServerCertificateTests {
    // Real time: the TLS-style check below uses RFC5280Policy() at the current time.
    let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))

    @Test func hasTheNamesAskedFor() async throws {
        let ca = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        let ips = [IPAddress("198.18.0.1")!, IPAddress("fd00::15")!]

        let server = try ca.issueServerCertificate(
            dnsNames: ["weftd.example", "localhost"], ipAddresses: ips, ttl: .seconds(30 * 86_400), now: now)

        let chain = try PEM.certificates(fromPEM: server.certificateChainPEM)
        let leaf = try #require(chain.first)
        let names = Array(try #require(try leaf.extensions.subjectAlternativeNames))
        #expect(
            names == [
                .dnsName("weftd.example"), .dnsName("localhost"), Fixture.ipSAN("198.18.0.1"),
                Fixture.ipSAN("fd00::15"),
            ])
        #expect(Array(try #require(try leaf.extensions.extendedKeyUsage)) == [.serverAuth])
        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(leaf.notValidAfter == now + 30 * 86_400)
        #expect(SPIFFEID(certificate: leaf) == nil)
        let key = try P256.Signing.PrivateKey(pemRepresentation: server.privateKeyPEM)
        #expect(leaf.publicKey == Certificate.PublicKey(key.publicKey))

        // A TLS client that trusts the bundle accepts it for each name.
        for (hostname, ip) in [("weftd.example", nil), (nil, "198.18.0.1"), (nil, "fd00::15")] as [(String?, String?)] {
            var verifier = Verifier(rootCertificates: CertificateStore(ca.trustBundle)) {
                RFC5280Policy()
                ServerIdentityPolicy(serverHostname: hostname, serverIP: ip)
            }
            let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(chain.dropFirst()))
            guard case .validCertificate = result else {
                Issue.record("not valid for \(hostname ?? ip ?? "?"): \(result)")
                continue
            }
        }
    }

    @Test func refusesBadRequests() throws {
        let ca = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        #expect(throws: IdentityError.noServerNames) {
            try ca.issueServerCertificate(dnsNames: [], ipAddresses: [], ttl: .seconds(600), now: now)
        }
        for name in ["*.example", "", "a..b", "-a.example", "a_b.example", "weftd.example."] {
            #expect(throws: IdentityError.invalidDNSName(name)) {
                try ca.issueServerCertificate(dnsNames: [name], ipAddresses: [], ttl: .seconds(600), now: now)
            }
        }
        #expect(
            throws: IdentityError.ttlOutOfRange(
                requested: .seconds(10), minimum: .seconds(60), maximum: .seconds(365 * 86_400))
        ) {
            try ca.issueServerCertificate(dnsNames: ["weftd.example"], ipAddresses: [], ttl: .seconds(10), now: now)
        }
    }
}
