import Foundation
import Logging
import Testing
import WeftCore
import WeftIdentity
import WeftProxy

@testable import WeftNode

/// A workload certificate of this node that the mesh revokes is dropped at once, so the next refresh replaces it
/// instead of waiting for its half-life while every peer refuses it.
struct NodeCertificatesRevocationTests {
    @Test func aRevokedWorkloadCertificateIsDroppedForRenewalOthersStay() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("weft-certs-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ca = try CertificateAuthority.generateRoot(trustDomain: "weft.test")
        func issue(_ identity: SPIFFEID) throws -> (TLSIdentity, serial: String) {
            let request = try CertificateRequestFactory.make(for: identity)
            let issued = try ca.issueWorkloadCertificate(
                csrPEM: request.csrPEM, for: identity, ttl: .seconds(3600), now: Date())
            return (
                TLSIdentity(
                    identity: identity, certificateChainPEM: issued.certificateChainPEM,
                    privateKeyPEM: request.privateKeyPEM), issued.serialNumber
            )
        }
        let (node, _) = try issue(.node(trustDomain: "weft.test", name: "a"))
        let (frontend, frontendSerial) = try issue(.workload(trustDomain: "weft.test", service: "frontend"))
        let (reporter, _) = try issue(.workload(trustDomain: "weft.test", service: "reporter"))
        let state = try NodeStateDirectory(path: directory)
        try state.saveWorkloads([ServiceName(name: "frontend"): frontend, ServiceName(name: "reporter"): reporter])
        let certificates = NodeCertificates(
            credentials: NodeCredentials(
                nodeName: "a", trustDomain: "weft.test", certificateChainPEM: node.certificateChainPEM,
                privateKeyPEM: node.privateKeyPEM, trustBundlePEM: ca.trustBundlePEM),
            stateDirectory: state, tls: MeshTLSStore(), logger: Logger(label: "test"))
        #expect(await certificates.services == [ServiceName(name: "frontend"), ServiceName(name: "reporter")])

        #expect(await certificates.forgetRevoked(["0badc0de"]).isEmpty)
        let forgotten = await certificates.forgetRevoked(["0badc0de", frontendSerial])
        #expect(forgotten == [.workload(trustDomain: "weft.test", service: "frontend")])
        #expect(await certificates.services == [ServiceName(name: "reporter")])
    }
}
