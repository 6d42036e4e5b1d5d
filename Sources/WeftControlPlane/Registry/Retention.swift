import Foundation
import WeftCore

/// What the store keeps, and the pruning that enforces it: certificate records (issued and revoked) until a day
/// after the certificate expired, audit entries for `auditRetention` (forever when nil).
public struct Retention: Sendable {
    /// How long after its expiry a certificate's records stay: covers nodes whose clocks run behind.
    public static let certificateGrace: Duration = .seconds(86_400)
    public static let defaultAuditRetention: Duration = .seconds(90 * 86_400)

    public let registry: Registry
    public var auditRetention: Duration?

    public init(registry: Registry, auditRetention: Duration?) {
        self.registry = registry
        self.auditRetention = auditRetention
    }

    /// What one pruning run deleted.
    public struct Report: Sendable, Equatable {
        public var certificateRecords = 0
        public var auditEntries = 0
    }

    /// Prunes everything past its retention at `now`.
    public func prune(now: Date) async throws(RegistryError) -> Report {
        var report = Report()
        report.certificateRecords = try await registry.pruneCertificates(
            expiredBefore: now - Self.certificateGrace.timeInterval)
        if let auditRetention {
            do {
                report.auditEntries = try await registry.store.pruneAudit(before: now - auditRetention.timeInterval)
            } catch { throw .store(error) }
        }
        return report
    }
}
