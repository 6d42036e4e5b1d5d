import Foundation
import Hummingbird
import WeftCore
import WeftIdentity
import X509

extension AdminAPI {
    /// The CA, the certificates it issued (serials, identities, lifetimes; never keys) and the revoked ones;
    /// POST …/revoke revokes one.
    func addCertificateRoutes(to routes: AdminRouteTable) {
        routes.get("/v1/certificates") { _, _ in
            let authority = registry.authority
            let certificate = authority.certificate
            let view = CertificatesInfo(
                authority: .init(
                    trustDomain: authority.trustDomain, subject: certificate.subject.description,
                    issuer: certificate.issuer.description, notBefore: certificate.notValidBefore,
                    notAfter: certificate.notValidAfter, fingerprint: certificateFingerprint(certificate),
                    isRoot: certificate.subject == certificate.issuer,
                    trustBundleFingerprint: authority.trustBundleFingerprint
                ),
                issued: try await registry.issuedCertificates().sorted { $0.notBefore < $1.notBefore },
                revoked: try await registry.revokedCertificates().sorted { $0.revokedAt < $1.revokedAt }
            )
            return JSONResponse.make(view, etag: try await registry.revision())
        }

        routes.post("/v1/certificates/{serial}/revoke", scope: .admin) { _, context in
            let revoked = try await registry.revokeCertificate(
                serial: try Input.path("serial", context), actor: context.actor)
            return JSONResponse.make(revoked, etag: try await registry.revision())
        }
    }

    /// GET /v1/trust-bundle, without a token: the mesh's root certificates, PEM. Safe to publish: a trust bundle
    /// holds public certificates only, no key, and a client needs it before it has any credential — to verify
    /// weftd's own TLS certificate (weftctl --ca-file) and to bootstrap nodes, which check its fingerprint against
    /// the one their join token carries.
    func addTrustBundleRoute(to routes: AdminRouteTable) {
        routes.get("/v1/trust-bundle") { _, _ in
            JSONResponse.text(registry.authority.trustBundlePEM, contentType: "application/x-pem-file")
        }
    }
}
