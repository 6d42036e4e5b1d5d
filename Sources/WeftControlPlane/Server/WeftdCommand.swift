import Logging
import WeftCore
import WeftLogging
import WeftSystemd

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What `weftd` does behind its flags: run the control plane until SIGTERM/SIGINT.
public enum WeftdCommand {
    public static func run(flags: ControlPlaneFlags, logging: LoggingSettings) async throws {
        logging.bootstrap()
        let configuration = try ControlPlaneConfiguration.load(flags: flags)
        let logger = Logger(label: "weftd")
        try await ControlPlane.run(
            configuration: configuration, logger: logger, stopOnSignals: true,
            notifier: SystemdNotifier.fromEnvironment()
        ) { ready in
            let scheme = ready.adminTLS ? "https" : "http"
            var line =
                "weftd ready node=\(ready.nodeListener) join=\(ready.joinListener) admin=\(scheme)://\(ready.adminListener)"
            line += " trust_domain=\(ready.trustDomain) trust_bundle=\(ready.trustBundleFile)"
            if let token = ready.bootstrapTokenFile { line += " bootstrap_token=\(token)" }
            // Unbuffered: scripts wait for this line on a pipe.
            StandardStream.output.write(line + "\n")
        }
        logger.notice("weftd stopped")
    }
}
