import Foundation
import Prometheus
import Testing
import WeftCore

@testable import WeftNode

@Suite struct CertificateValidityTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    var frontend: CertificateValidity {
        CertificateValidity(
            identity: SPIFFEID.workload(trustDomain: "weft.test", namespace: "default", service: "frontend"),
            notBefore: start, notAfter: start.addingTimeInterval(24 * 3600))
    }

    @Test func renewalIsDueAtHalfLife() {
        #expect(frontend.halfLife == start.addingTimeInterval(12 * 3600))
    }

    @Test func readinessDegradesWithAQuarterOfTheLifetimeLeftAndOnceExpired() {
        #expect(frontend.degradation(at: start.addingTimeInterval(17 * 3600)) == nil)
        #expect(
            frontend.degradation(at: start.addingTimeInterval(18 * 3600 + 1))
                == "certificate spiffe://weft.test/ns/default/svc/frontend expires at 2027-01-16T08:00:00Z, with less than a quarter of its "
                + "lifetime left; renewal is failing")
        #expect(
            frontend.degradation(at: start.addingTimeInterval(25 * 3600))
                == "certificate spiffe://weft.test/ns/default/svc/frontend expired at 2027-01-16T08:00:00Z; renewal is failing"
        )
    }

    @Test func theExpiryGaugeFollowsTheHeldCertificates() {
        let registry = PrometheusCollectorRegistry()
        let metric = CertificateExpiryMetric(registry: registry)
        let node = CertificateValidity(
            identity: SPIFFEID.node(trustDomain: "weft.test", name: "a"), notBefore: start,
            notAfter: start.addingTimeInterval(3600))
        metric.update([node, frontend], now: start.addingTimeInterval(600))
        let both = registry.emitToString()
        #expect(both.contains(#"weft_certificate_expiry_seconds{identity="spiffe://weft.test/node/a"} 3000.0"#))
        #expect(
            both.contains(
                #"weft_certificate_expiry_seconds{identity="spiffe://weft.test/ns/default/svc/frontend"} 85800.0"#))

        metric.update([node], now: start.addingTimeInterval(3700))
        let one = registry.emitToString()
        #expect(one.contains(#"weft_certificate_expiry_seconds{identity="spiffe://weft.test/node/a"} -100.0"#))
        #expect(!one.contains("frontend"))
    }
}
