import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// When one held certificate is valid, as renewal, `/readyz` and `weft_certificate_expiry_seconds` see it.
public struct CertificateValidity: Sendable, Equatable {
    public var identity: SPIFFEID
    public var notBefore: Date
    public var notAfter: Date

    public init(identity: SPIFFEID, notBefore: Date, notAfter: Date) {
        self.identity = identity
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// Half its lifetime: when it is renewed.
    var halfLife: Date {
        notBefore.addingTimeInterval(notAfter.timeIntervalSince(notBefore) / 2)
    }

    /// Seconds until it expires; negative once it has.
    func secondsLeft(at now: Date) -> Double {
        notAfter.timeIntervalSince(now)
    }

    /// Why the node is not ready because of this certificate at `now`, or nil: expired, or less than a quarter of its
    /// lifetime left — renewal is due at half life, so by then renewals have failed for a quarter of its life and
    /// callers should be sent elsewhere before it expires.
    func degradation(at now: Date) -> String? {
        let left = secondsLeft(at: now)
        if left <= 0 {
            return "certificate \(identity) expired at \(notAfter.formatted(.iso8601)); renewal is failing"
        }
        guard left < notAfter.timeIntervalSince(notBefore) / 4 else { return nil }
        return
            "certificate \(identity) expires at \(notAfter.formatted(.iso8601)), with less than a quarter of its "
            + "lifetime left; renewal is failing"
    }
}
