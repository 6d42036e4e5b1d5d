import Logging
import ServiceLifecycle
import UnixSignals
import WeftSystemd

/// Turns signals into the node's stop, then prepares it before the rest of the group stops in reverse order:
/// - SIGTERM, SIGINT: stop now.
/// - SIGUSR2: released for a successor (a restart): keep serving until one takes over the sockets, or stop once
///   `handOverWait` has passed without one. From then on this process says nothing to systemd.
/// The service ends once the stop is prepared, which shuts the group down gracefully.
struct NodeLifecycleService: Service {
    let stop: NodeStop
    let handOverWait: Duration
    let notifier: SystemdNotifier?
    let logger: Logger
    /// Closes what must close first for `reason` (listeners, the capture): run once, before the group stops.
    let prepare: @Sendable (NodeStopReason) async -> Void

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sigusr2)
        let reason = await withTaskGroup(of: Outcome.self) { group in
            group.addTask {
                for await signal in signals {
                    if signal == .sigusr2 {
                        released()
                    } else {
                        stop.request(.signal(signal == .sigterm ? "SIGTERM" : "SIGINT"))
                    }
                }
                return .ended
            }
            group.addTask {
                // Released: at most handOverWait for a successor.
                await releasedEvent.wait()
                guard (try? await Task.sleep(for: handOverWait)) != nil else { return .ended }
                stop.request(.noSuccessor(waited: handOverWait))
                return .ended
            }
            // The decision, or nil when the group stops for another reason first.
            group.addTask { .decided(await cancelWhenGracefulShutdown { await stop.firstRequest() } ?? nil) }
            var reason: NodeStopReason?
            while let outcome = await group.next() {
                if case .decided(let decided) = outcome {
                    reason = decided
                    break
                }
            }
            group.cancelAll()
            return reason
        }
        guard let reason else { return }
        logger.info("stopping", metadata: ["reason": "\(reason)"])
        await prepare(reason)
        stop.markPrepared()
    }

    private enum Outcome: Sendable {
        case decided(NodeStopReason?)
        case ended
    }

    let releasedEvent = OneShotEvent()

    private func released() {
        guard releasedEvent.fire() else { return }
        notifier?.silence()
        logger.info(
            "released for a successor: serving until one takes over",
            metadata: ["handoverWait": "\(handOverWait)"])
    }
}
