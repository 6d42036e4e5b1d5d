import Crypto
import Foundation
import SwiftASN1
import Testing
import WeftCore
import WeftIdentity
import X509

@Suite struct CALoadingTests {
    let now = Fixture.now

    @Test func aRootRoundTripsThroughPEM() async throws {
        let generated = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)

        let loaded = try CertificateAuthority(
            certificatePEM: generated.certificatePEM,
            privateKeyPEM: generated.privateKeyPEM,
            intermediatesPEM: generated.intermediatesPEM,
            trustDomain: Fixture.trustDomain,
            now: now
        )

        #expect(loaded.certificate == generated.certificate)
        #expect(loaded.trustBundle == generated.trustBundle)
        #expect(loaded.trustBundleFingerprint == generated.trustBundleFingerprint)
        #expect(loaded.privateKeyPEM == generated.privateKeyPEM)
        let request = try CertificateRequestFactory.make(for: Fixture.cart)
        let issued = try loaded.issueWorkloadCertificate(
            csrDER: request.csrDER, for: Fixture.cart, ttl: .seconds(600), now: now)
        let peer = try await verifyChain(
            leafAndIntermediates: try PEM.certificates(fromPEM: issued.certificateChainPEM),
            trustBundle: generated.trustBundle,
            trustDomain: Fixture.trustDomain,
            now: now
        )
        #expect(peer == Fixture.cart)
    }

    @Test func anIntermediateLoadsWithItsChainAndLeavesVerifyAgainstTheRoot() async throws {
        let root = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        let intermediate = try Fixture.intermediate(of: root)

        let ca = try CertificateAuthority(
            certificatePEM: Fixture.pem(intermediate.certificate),
            privateKeyPEM: intermediate.key.pemRepresentation,
            intermediatesPEM: root.certificatePEM,
            trustDomain: Fixture.trustDomain,
            now: now
        )

        #expect(ca.certificate == intermediate.certificate)
        #expect(ca.intermediates.isEmpty)
        #expect(ca.trustBundle == [root.certificate])
        #expect(ca.trustBundlePEM == root.certificatePEM)
        #expect(ca.trustBundleFingerprint == root.trustBundleFingerprint)
        #expect(try PEM.certificates(fromPEM: ca.chainPEM) == [intermediate.certificate])
        #expect(ca.intermediatesPEM == root.certificatePEM)

        let request = try CertificateRequestFactory.make(for: Fixture.cart)
        let issued = try ca.issueWorkloadCertificate(
            csrPEM: request.csrPEM, for: Fixture.cart, ttl: .seconds(600), now: now)
        let presented = try PEM.certificates(fromPEM: issued.certificateChainPEM)
        #expect(presented == [issued.leaf, intermediate.certificate])
        #expect(issued.leaf.issuer == intermediate.certificate.subject)

        let peer = try await verifyChain(
            leafAndIntermediates: presented, trustBundle: root.trustBundle, trustDomain: Fixture.trustDomain, now: now)
        #expect(peer == Fixture.cart)

        // Without the intermediate the leaf does not chain to the root.
        await #expect(throws: PeerVerificationError.self) {
            try await verifyChain(
                leafAndIntermediates: [issued.leaf], trustBundle: root.trustBundle, trustDomain: Fixture.trustDomain,
                now: now)
        }
    }

    @Test func aTwoLevelChainLoadsInAnyOrderAndFromAFullChainFile() async throws {
        let root = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        let upper = try Fixture.intermediate(of: root, commonName: "Upper intermediate")
        let lower = try Fixture.intermediate(
            of: CertificateAuthority(
                certificatePEM: Fixture.pem(upper.certificate),
                privateKeyPEM: upper.key.pemRepresentation,
                intermediatesPEM: root.certificatePEM,
                trustDomain: Fixture.trustDomain,
                now: now
            ),
            commonName: "Lower intermediate"
        )

        let shuffled = try CertificateAuthority(
            certificatePEM: Fixture.pem(lower.certificate),
            privateKeyPEM: lower.key.pemRepresentation,
            intermediatesPEM: Fixture.pem(root.certificate, upper.certificate),
            trustDomain: Fixture.trustDomain,
            now: now
        )
        let fullChain = try CertificateAuthority(
            certificatePEM: Fixture.pem(lower.certificate, upper.certificate, root.certificate),
            privateKeyPEM: lower.key.pemRepresentation,
            trustDomain: Fixture.trustDomain,
            now: now
        )

        for ca in [shuffled, fullChain] {
            #expect(ca.intermediates == [upper.certificate])
            #expect(ca.trustBundle == [root.certificate])
            #expect(try PEM.certificates(fromPEM: ca.chainPEM) == [lower.certificate, upper.certificate])
            let request = try CertificateRequestFactory.make(for: Fixture.payments)
            let issued = try ca.issueWorkloadCertificate(
                csrDER: request.csrDER, for: Fixture.payments, ttl: .seconds(600), now: now)
            let peer = try await verifyChain(
                leafAndIntermediates: try PEM.certificates(fromPEM: issued.certificateChainPEM),
                trustBundle: root.trustBundle,
                trustDomain: Fixture.trustDomain,
                now: now
            )
            #expect(peer == Fixture.payments)
            // Persisted and reloaded, it is the same CA.
            let reloaded = try CertificateAuthority(
                certificatePEM: ca.certificatePEM,
                privateKeyPEM: ca.privateKeyPEM,
                intermediatesPEM: ca.intermediatesPEM,
                trustDomain: ca.trustDomain,
                now: now
            )
            #expect(reloaded.chainPEM == ca.chainPEM && reloaded.trustBundlePEM == ca.trustBundlePEM)
        }
    }

    @Test func refusesAKeyThatIsNotTheCertificates() throws {
        let root = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        #expect(throws: IdentityError.keyDoesNotMatchCertificate(subject: "CN=Weft root CA,O=weft.local")) {
            try CertificateAuthority(
                certificatePEM: root.certificatePEM,
                privateKeyPEM: P256.Signing.PrivateKey().pemRepresentation,
                trustDomain: Fixture.trustDomain,
                now: now
            )
        }
    }

    @Test func refusesACertificateThatIsNotACA() throws {
        let root = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        let request = try CertificateRequestFactory.make(for: Fixture.cart)
        let leaf = try root.issueWorkloadCertificate(
            csrDER: request.csrDER, for: Fixture.cart, ttl: .seconds(600), now: now)
        #expect(throws: IdentityError.notACertificateAuthority(subject: Fixture.cart.description)) {
            try CertificateAuthority(
                certificatePEM: leaf.certificateChainPEM,
                privateKeyPEM: request.privateKeyPEM,
                intermediatesPEM: root.certificatePEM,
                trustDomain: Fixture.trustDomain,
                now: now
            )
        }
    }

    @Test func refusesACAThatMayNotSignCertificates() throws {
        let key = P256.Signing.PrivateKey()
        let certificate = try Fixture.certificate(
            commonName: "Signing only", key: .init(key), keyUsage: KeyUsage(digitalSignature: true))
        #expect(throws: IdentityError.missingKeyCertSign(subject: "CN=Signing only,O=Example Corp")) {
            try CertificateAuthority(
                certificatePEM: Fixture.pem(certificate), privateKeyPEM: key.pemRepresentation,
                trustDomain: Fixture.trustDomain, now: now)
        }
    }

    @Test func refusesKeysOtherThanP256() throws {
        let p384 = P384.Signing.PrivateKey()
        let p384CA = try Fixture.certificate(commonName: "P-384 root", key: .init(p384))
        #expect(throws: IdentityError.unsupportedKeyAlgorithm(source: "the CA certificate", found: "ECDSA P-384")) {
            try CertificateAuthority(
                certificatePEM: Fixture.pem(p384CA), privateKeyPEM: p384.pemRepresentation,
                trustDomain: Fixture.trustDomain, now: now)
        }

        let root = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        #expect(throws: IdentityError.unsupportedKeyAlgorithm(source: "the CA private key", found: "Ed25519")) {
            try CertificateAuthority(
                certificatePEM: root.certificatePEM,
                privateKeyPEM: ed25519PEM(),
                trustDomain: Fixture.trustDomain,
                now: now
            )
        }
    }

    @Test func refusesExpiredAndNotYetValidCAs() throws {
        let root = try CertificateAuthority.generateRoot(
            trustDomain: Fixture.trustDomain, validity: .seconds(86_400), now: now)
        #expect(
            throws: IdentityError.certificateExpired(subject: "CN=Weft root CA,O=weft.local", notAfter: now + 86_400)
        ) {
            try CertificateAuthority(
                certificatePEM: root.certificatePEM, privateKeyPEM: root.privateKeyPEM,
                trustDomain: Fixture.trustDomain, now: now + 2 * 86_400)
        }
        #expect(
            throws: IdentityError.certificateNotYetValid(subject: "CN=Weft root CA,O=weft.local", notBefore: now - 300)
        ) {
            try CertificateAuthority(
                certificatePEM: root.certificatePEM, privateKeyPEM: root.privateKeyPEM,
                trustDomain: Fixture.trustDomain, now: now - 3_600)
        }
    }

    @Test func refusesBrokenChains() throws {
        let root = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        let intermediate = try Fixture.intermediate(of: root)
        let certificatePEM = Fixture.pem(intermediate.certificate)
        let keyPEM = intermediate.key.pemRepresentation
        let subject = "CN=Example Weft intermediate,O=Example Corp"

        #expect(throws: IdentityError.incompleteChain(subject: subject, issuer: "CN=Weft root CA,O=weft.local")) {
            try CertificateAuthority(
                certificatePEM: certificatePEM, privateKeyPEM: keyPEM, trustDomain: Fixture.trustDomain, now: now)
        }
        // Another generated root has the same name but another key.
        let impostor = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        #expect(throws: IdentityError.chainSignatureInvalid(subject: subject, issuer: "CN=Weft root CA,O=weft.local")) {
            try CertificateAuthority(
                certificatePEM: certificatePEM, privateKeyPEM: keyPEM, intermediatesPEM: impostor.certificatePEM,
                trustDomain: Fixture.trustDomain, now: now)
        }
        let stray = try Fixture.certificate(commonName: "Stray", key: .init(P256.Signing.PrivateKey()))
        #expect(throws: IdentityError.unrelatedCertificate(subject: "CN=Stray,O=Example Corp")) {
            try CertificateAuthority(
                certificatePEM: certificatePEM,
                privateKeyPEM: keyPEM,
                intermediatesPEM: Fixture.pem(root.certificate, stray),
                trustDomain: Fixture.trustDomain,
                now: now
            )
        }
    }

    @Test func refusesAnIntermediateItsRootsPathLengthForbids() throws {
        let rootKey = P256.Signing.PrivateKey()
        let root = try Fixture.certificate(commonName: "Leaf-only root", key: .init(rootKey), maxPathLength: 0)
        let key = P256.Signing.PrivateKey()
        let intermediate = try Fixture.certificate(
            commonName: "Intermediate", key: .init(key), issuer: (root.subject, .init(rootKey)))
        #expect(
            throws: IdentityError.pathLengthExceeded(
                subject: "CN=Leaf-only root,O=Example Corp", maxPathLength: 0, caCertificatesBelow: 1)
        ) {
            try CertificateAuthority(
                certificatePEM: Fixture.pem(intermediate),
                privateKeyPEM: key.pemRepresentation,
                intermediatesPEM: Fixture.pem(root),
                trustDomain: Fixture.trustDomain,
                now: now
            )
        }
    }

    @Test func refusesUnparsableOrMisplacedPEM() throws {
        let root = try CertificateAuthority.generateRoot(trustDomain: Fixture.trustDomain, now: now)
        func load(_ certificatePEM: String, _ privateKeyPEM: String, intermediates: String? = nil) throws {
            _ = try CertificateAuthority(
                certificatePEM: certificatePEM, privateKeyPEM: privateKeyPEM, intermediatesPEM: intermediates,
                trustDomain: Fixture.trustDomain, now: now)
        }

        #expect(throws: IdentityError.noPEMBlock(source: "the CA certificate", expected: "CERTIFICATE")) {
            try load("not a certificate", root.privateKeyPEM)
        }
        #expect(throws: IdentityError.noPEMBlock(source: "the CA private key", expected: "PRIVATE KEY")) {
            try load(root.certificatePEM, "")
        }
        let badBase64 = "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n"
        let error = #expect(throws: IdentityError.self) { try load(badBase64, root.privateKeyPEM) }
        guard case .unparsablePEM(source: "the CA certificate", _) = error else {
            Issue.record("expected .unparsablePEM for the CA certificate, got \(String(describing: error))")
            return
        }
        let badDER = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n"
        let derError = #expect(throws: IdentityError.self) { try load(badDER, root.privateKeyPEM) }
        guard case .unparsablePEM(source: "the CA certificate", _) = derError else {
            Issue.record("expected .unparsablePEM for a certificate of bad DER, got \(String(describing: derError))")
            return
        }
        #expect(
            throws: IdentityError.unexpectedPEMBlock(
                source: "the CA certificate", found: "PRIVATE KEY", expected: "CERTIFICATE")
        ) {
            try load(root.privateKeyPEM, root.certificatePEM)
        }
        #expect(
            throws: IdentityError.unexpectedPEMBlock(
                source: "the CA private key", found: "CERTIFICATE", expected: "PRIVATE KEY")
        ) {
            try load(root.certificatePEM, root.certificatePEM)
        }
        #expect(throws: IdentityError.multiplePrivateKeys(source: "the CA private key")) {
            try load(root.certificatePEM, root.privateKeyPEM + root.privateKeyPEM)
        }
        let encrypted = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAMCAQE=\n-----END ENCRYPTED PRIVATE KEY-----\n"
        #expect(throws: IdentityError.encryptedPrivateKey(source: "the CA private key")) {
            try load(root.certificatePEM, encrypted)
        }
        #expect(throws: IdentityError.noPEMBlock(source: "the intermediates", expected: "CERTIFICATE")) {
            try load(root.certificatePEM, root.privateKeyPEM, intermediates: "garbage")
        }
    }

    @Test func refusesATrustDomainTheCertificateContradicts() throws {
        let root = try CertificateAuthority.generateRoot(trustDomain: "other.example", now: now)
        #expect(
            throws: IdentityError.trustDomainMismatch(certificateTrustDomain: "other.example", configured: "weft.local")
        ) {
            try CertificateAuthority(
                certificatePEM: root.certificatePEM, privateKeyPEM: root.privateKeyPEM, trustDomain: "weft.local",
                now: now)
        }
        #expect(throws: IdentityError.invalidTrustDomain("")) {
            try CertificateAuthority(
                certificatePEM: root.certificatePEM, privateKeyPEM: root.privateKeyPEM, trustDomain: "", now: now)
        }
    }

    @Test func acceptsTheSEC1KeysOpenSSLWrites() throws {
        // `openssl ecparam -genkey` writes an EC PARAMETERS block and then a SEC1 EC PRIVATE KEY.
        let key = P256.Signing.PrivateKey()
        let certificate = try Fixture.certificate(commonName: "OpenSSL root", key: .init(key))
        let sec1 = try sec1PEM(key)
        let parameters = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
        let ca = try CertificateAuthority(
            certificatePEM: Fixture.pem(certificate), privateKeyPEM: parameters + sec1,
            trustDomain: Fixture.trustDomain, now: now)
        #expect(ca.certificate == certificate)
    }

    /// A PKCS#8 Ed25519 private key (RFC 8410): a fixed prefix, then the 32-byte seed.
    private func ed25519PEM() -> String {
        let prefix: [UInt8] = [
            0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
        ]
        let der = prefix + Curve25519.Signing.PrivateKey().rawRepresentation
        return PEMDocument(type: "PRIVATE KEY", derBytes: der).pemString + "\n"
    }

    /// SEC1 (RFC 5915) encoding of a P-256 key with its named curve and public key.
    private func sec1PEM(_ key: P256.Signing.PrivateKey) throws -> String {
        let prime256v1: ASN1ObjectIdentifier = [1, 2, 840, 10045, 3, 1, 7]
        var serializer = DER.Serializer()
        try serializer.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(1)
            try coder.serialize(ASN1OctetString(contentBytes: ArraySlice(key.rawRepresentation)))
            try coder.serialize(prime256v1, explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific)
            try coder.serialize(
                ASN1BitString(bytes: ArraySlice(key.publicKey.x963Representation)),
                explicitlyTaggedWithTagNumber: 1,
                tagClass: .contextSpecific
            )
        }
        return PEMDocument(type: "EC PRIVATE KEY", derBytes: serializer.serializedBytes).pemString + "\n"
    }
}
