import Crypto
import Foundation
import SwiftASN1
import Testing
import WeftCore
import WeftIdentity
import X509

@Suite struct IssuanceTests {
    let now = Fixture.now

    @Test func aGeneratedRootIssuesAWorkloadCertificateThatVerifies() async throws {
        let ca = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        let request = try CertificateRequestFactory.make(for: Fixture.cart)

        let issued = try ca.issueWorkloadCertificate(
            csrPEM: request.csrPEM, for: Fixture.cart, ttl: .seconds(60), now: now)

        #expect(issued.identity == Fixture.cart)
        #expect(SPIFFEID(certificate: issued.leaf) == Fixture.cart)
        #expect(issued.notAfter.timeIntervalSince(now) == 60)
        #expect(issued.leaf.notValidAfter == issued.notAfter)
        #expect(issued.leaf.notValidBefore == issued.notBefore)
        // The leaf certifies the key the node made, and that key stayed on the node.
        let nodeKey = try P256.Signing.PrivateKey(pemRepresentation: request.privateKeyPEM)
        #expect(issued.leaf.publicKey == Certificate.PublicKey(nodeKey.publicKey))

        let presented = try PEM.certificates(fromPEM: issued.certificateChainPEM)
        #expect(presented == [issued.leaf])  // a root CA appends no chain
        let bundle = try PEM.certificates(fromPEM: ca.trustBundlePEM)
        let peer = try await verifyChain(
            leafAndIntermediates: presented, trustBundle: bundle, trustDomain: Fixture.trustDomain, now: now + 30)
        #expect(peer == Fixture.cart)
    }

    @Test func nodeIdentitiesAreIssuedFromDER() async throws {
        let ca = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        let node = SPIFFEID.node(trustDomain: Fixture.trustDomain, name: "host-a")
        let request = try CertificateRequestFactory.make(for: node)

        let issued = try ca.issueWorkloadCertificate(csrDER: request.csrDER, for: node, ttl: .seconds(86_400), now: now)

        #expect(issued.identity == node)
        #expect(issued.notAfter == now + 86_400)
        let peer = try await verifyChain(
            leafAndIntermediates: [issued.leaf], trustBundle: ca.trustBundle, trustDomain: Fixture.trustDomain, now: now
        )
        #expect(peer == node)
    }

    @Test func serialsAreRandomPositiveAndSixteenOctets() throws {
        let ca = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        var serials: Set<String> = []
        for _ in 0..<20 {
            let request = try CertificateRequestFactory.make(for: Fixture.cart)
            let issued = try ca.issueWorkloadCertificate(
                csrDER: request.csrDER, for: Fixture.cart, ttl: .seconds(600), now: now)
            let bytes = Array(issued.leaf.serialNumber.bytes)
            #expect(bytes.count == 16)
            #expect(bytes[0] & 0x80 == 0)
            #expect(issued.serialNumber.count == 32)
            #expect(issued.serialNumber == bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined())
            serials.insert(issued.serialNumber)
        }
        #expect(serials.count == 20)
    }

    @Test func theLeafHasTheX509SVIDProfile() throws {
        let ca = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        let request = try CertificateRequestFactory.make(for: Fixture.cart)
        let leaf = try ca.issueWorkloadCertificate(
            csrDER: request.csrDER, for: Fixture.cart, ttl: .seconds(3_600), now: now
        ).leaf

        #expect(leaf.version == .v3)
        #expect(leaf.subject == DistinguishedName())
        #expect(leaf.issuer == ca.certificate.subject)
        #expect(leaf.signatureAlgorithm == .ecdsaWithSHA256)
        #expect(ca.certificate.publicKey.isValidSignature(leaf.signature, for: leaf))

        let san = try #require(leaf.extensions[oid: .X509ExtensionID.subjectAlternativeName])
        #expect(san.critical, "an empty subject requires a critical SAN")
        #expect(
            Array(try SubjectAlternativeNames(san)) == [
                .uniformResourceIdentifier("spiffe://weft.local/ns/shop/svc/cart")
            ])

        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try leaf.extensions.keyUsage == KeyUsage(digitalSignature: true))
        #expect(leaf.extensions[oid: .X509ExtensionID.keyUsage]?.critical == true)
        let eku = try #require(try leaf.extensions.extendedKeyUsage)
        #expect(Set(eku) == [.serverAuth, .clientAuth])
        #expect(try leaf.extensions.subjectKeyIdentifier == SubjectKeyIdentifier(hash: leaf.publicKey))
        let rootSKI = try #require(try ca.certificate.extensions.subjectKeyIdentifier)
        #expect(try leaf.extensions.authorityKeyIdentifier?.keyIdentifier == rootSKI.keyIdentifier)

        // Backdated for clock skew, by the same few minutes as the root.
        #expect(leaf.notValidBefore == now - 300)
        #expect(leaf.notValidAfter == now + 3_600)
    }

    @Test func aLeafNeverOutlivesItsCA() throws {
        let ca = try CertificateAuthority.generateRoot(
            trustDomain: Fixture.trustDomain, validity: .seconds(7_200), now: now)
        let request = try CertificateRequestFactory.make(for: Fixture.cart)

        let issued = try ca.issueWorkloadCertificate(
            csrDER: request.csrDER, for: Fixture.cart, ttl: .seconds(86_400), now: now)

        #expect(issued.notAfter == ca.certificate.notValidAfter)
        #expect(issued.notAfter == now + 7_200)

        // Within a minute of the CA's end, nothing useful can be issued any more.
        #expect(throws: CSRRejection.authorityExpiresTooSoon(notAfter: now + 7_200)) {
            try ca.issueWorkloadCertificate(
                csrDER: request.csrDER, for: Fixture.cart, ttl: .seconds(600), now: now + 7_170)
        }
    }

    @Test func theGeneratedRootIsASelfSignedCA() throws {
        let ca = try CertificateAuthority.generateRoot(trustDomain: "prod.example", now: now)
        let root = ca.certificate

        #expect(root.subject.description == "CN=Weft root CA,O=prod.example")
        #expect(root.issuer == root.subject)
        #expect(root.publicKey.isValidSignature(root.signature, for: root))
        #expect(try root.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: nil))
        #expect(try root.extensions.keyUsage == KeyUsage(keyCertSign: true, cRLSign: true))
        #expect(root.extensions[oid: .X509ExtensionID.keyUsage]?.critical == true)
        #expect(try root.extensions.subjectKeyIdentifier == SubjectKeyIdentifier(hash: root.publicKey))
        #expect(
            Array(try #require(try root.extensions.subjectAlternativeNames)) == [
                .uniformResourceIdentifier("spiffe://prod.example")
            ])
        #expect(root.notValidAfter == now + 10 * 365 * 86_400)
        #expect(P256.Signing.PublicKey(root.publicKey) != nil)

        #expect(ca.trustBundle == [root])
        #expect(ca.trustBundlePEM == ca.certificatePEM)
        #expect(ca.chainPEM.isEmpty)
        #expect(ca.intermediatesPEM == nil)
        // The description is safe to log: it names the CA, never the key.
        #expect(!"\(ca)".contains(ca.privateKeyPEM.split(separator: "\n")[1]))
    }

    @Test func fingerprintsAreSHA256OfTheDER() throws {
        let ca = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        let der = try PEMDocument(pemString: ca.trustBundlePEM).derBytes
        let expected = SHA256.hash(data: der).map { String($0, radix: 16).leftPadded(to: 2) }.joined()

        #expect(certificateFingerprint(ca.certificate) == expected)
        #expect(ca.trustBundleFingerprint == expected)
        #expect(expected.count == 64)

        let other = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        #expect(
            trustBundleFingerprint([ca.certificate, other.certificate])
                == trustBundleFingerprint([other.certificate, ca.certificate]))
        #expect(ca.trustBundleFingerprint != other.trustBundleFingerprint)
    }

    @Test func generateRootRefusesBadInput() {
        #expect(throws: IdentityError.invalidTrustDomain("Weft.Local")) {
            try CertificateAuthority.generateRoot(trustDomain: "Weft.Local", now: now)
        }
        #expect(throws: IdentityError.invalidValidity(requested: .zero)) {
            try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, validity: .zero, now: now)
        }
    }

    @Test func theNodeCSRAsksForExactlyItsIdentity() throws {
        let request = try CertificateRequestFactory.make(for: Fixture.cart)
        let csr = try CertificateSigningRequest(pemEncoded: request.csrPEM)
        #expect(try Fixture.der(csr) == request.csrDER)

        let key = try P256.Signing.PrivateKey(pemRepresentation: request.privateKeyPEM)
        #expect(csr.publicKey == Certificate.PublicKey(key.publicKey))
        #expect(csr.publicKey.isValidSignature(csr.signature, for: csr))
        #expect(csr.subject == DistinguishedName())
        let extensions = try #require(try csr.attributes.extensionRequest?.extensions)
        #expect(extensions.count == 1)
        let san = try #require(extensions[oid: .X509ExtensionID.subjectAlternativeName])
        #expect(san.critical)
        #expect(Array(try SubjectAlternativeNames(san)) == [.uniformResourceIdentifier(Fixture.cart.description)])

        // Each request has its own key.
        let second = try CertificateRequestFactory.make(for: Fixture.cart)
        #expect(second.privateKeyPEM != request.privateKeyPEM)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
