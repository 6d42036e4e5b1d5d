import Foundation
import Logging
import ServiceLifecycle

/// Prunes what the store no longer needs (see `Retention`) once at start and then every `interval`, until weftd
/// stops. A failed run is logged and tried again at the next interval.
struct RetentionService: Service {
    let retention: Retention
    var interval: Duration = .seconds(3600)
    let logger: Logger
    var now: @Sendable () -> Date = { Date() }

    func run() async throws {
        try await StoppingQuietly.run {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    await pruneOnce()
                    try await Task.sleep(for: interval)
                }
            }
        }
    }

    func pruneOnce() async {
        do {
            let report = try await retention.prune(now: now())
            if report.certificateRecords > 0 || report.auditEntries > 0 {
                logger.info(
                    "pruned the store",
                    metadata: [
                        "certificate_records": "\(report.certificateRecords)",
                        "audit_entries": "\(report.auditEntries)",
                    ])
            }
        } catch {
            logger.error("pruning the store failed", metadata: ["error": "\(error)"])
        }
    }
}
