import Logging
import NIOPosix
import UnixSignals
import WeftSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// `weft-node supervise`: the main process of the systemd unit, so that a restart is hitless. systemd stops a
/// unit's main process before it starts the next one; the process that holds the connections must outlive that,
/// so it is this supervisor's child (the unit says `KillMode=process`), and the next unit start's child takes its
/// listening sockets over (`HandOverService`):
/// - SIGTERM (`systemctl stop` or `restart`): the worker is released (SIGUSR2: it serves until a successor takes
///   over, at most `handover_wait`, then stops) and the supervisor exits at once.
/// - SIGINT: the worker stops now (SIGTERM); the supervisor exits.
/// - SIGHUP (`systemctl reload`): a new worker from the binary on disk takes over from the current one (an
///   upgrade within the running unit).
/// - SIGABRT (systemd's watchdog: the worker stopped pinging): the worker is aborted too, and the supervisor exits.
/// - The current worker exits: the supervisor exits with its status, and systemd's `Restart=` applies.
/// Under `Type=notify` the supervisor relays what its current worker tells systemd, so the unit needs only
/// `NotifyAccess=main` and a released worker can no longer speak for it.
public enum NodeSupervisor {
    /// Runs `weft-node run <runArguments>` as the worker and supervises it; exits with the status systemd should
    /// see (it never waits for a released worker, which may drain for minutes).
    public static func run(runArguments: [String], logger: Logger) async -> Never {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup, .sigabrt)
        let relay = SystemdNotifier.fromEnvironment().map { NotifyRelay(systemd: $0, logger: logger) }
        var worker: pid_t
        do { worker = try spawnWorker(runArguments, relay: relay) } catch {
            logger.error("cannot start the worker: \(error)")
            leave(1)
        }
        logger.info("supervising the node", metadata: ["worker": "\(worker)"])
        let (events, continuation) = AsyncStream<Event>.makeStream()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await signal in signals { continuation.yield(.signal(signal)) }
            }
            if let relay { group.addTask { await relay.run() } }
            group.addTask {
                // Every child's exit, reaped on a thread of its own (waitpid blocks).
                while !Task.isCancelled {
                    let exit = try? await reaper.runIfActive { () -> (pid_t, Int32)? in
                        var status: Int32 = 0
                        let pid = waitpid(-1, &status, 0)
                        return pid > 0 ? (pid, status) : nil
                    }
                    guard let (pid, status) = exit else {
                        // No child right now (ECHILD), or the pool is shutting down.
                        try? await Task.sleep(for: .milliseconds(100))
                        continue
                    }
                    continuation.yield(.exited(pid, status))
                }
            }
            for await event in events {
                switch event {
                case .signal(.sigterm):
                    logger.info("released the worker for a successor", metadata: ["worker": "\(worker)"])
                    kill(worker, SIGUSR2)
                    leave(0)
                case .signal(.sighup):
                    do {
                        let successor = try spawnWorker(runArguments, relay: relay)
                        logger.info(
                            "reload: a new worker takes over", metadata: ["from": "\(worker)", "to": "\(successor)"])
                        worker = successor
                    } catch {
                        logger.error("reload: cannot start a new worker: \(error)")
                    }
                case .signal(.sigabrt):
                    logger.error("the watchdog expired: aborting the worker", metadata: ["worker": "\(worker)"])
                    kill(worker, SIGABRT)
                    leave(128 + SIGABRT)
                case .signal:
                    kill(worker, SIGTERM)
                    leave(0)
                case .exited(let pid, let status) where pid == worker:
                    let code = exitCode(status)
                    logger.log(
                        level: code == 0 ? .info : .error, "the worker exited",
                        metadata: ["worker": "\(pid)", "status": "\(describe(status))"])
                    leave(code)
                case .exited(let pid, let status):
                    logger.info(
                        "a previous worker exited", metadata: ["pid": "\(pid)", "status": "\(describe(status))"])
                }
            }
        }
        leave(1)
    }

    /// Exits at once: no exit handlers (which would wait on the runtime's threads), output flushed.
    private static func leave(_ code: Int32) -> Never {
        fflush(nil)
        _exit(code)
    }

    private enum Event: Sendable {
        case signal(UnixSignal)
        case exited(pid_t, Int32)
    }

    private static let reaper: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// This very binary (`/proc/self/exe`) with `run` and the arguments; default signal handling, nothing blocked;
    /// the watchdog addressed to whoever pings (the worker, not this process); with a relay, its notifications go
    /// to a socket of its own (descriptor 3) that the relay follows from now on.
    private static func spawnWorker(_ runArguments: [String], relay: NotifyRelay?) throws(SpawnError) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGUSR2, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var pair: [Int32] = [-1, -1]
        if relay != nil {
            guard socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
                throw SpawnError(description: "socketpair: \(String(cString: strerror(errno)))")
            }
            posix_spawn_file_actions_adddup2(&actions, pair[1], 3)
        }

        let arguments = ["weft-node", "run"] + runArguments
        let dropped =
            ["WATCHDOG_PID="] + (relay == nil ? [] : ["NOTIFY_SOCKET=", SystemdNotifier.descriptorVariable + "="])
        var environment: [String] = relay == nil ? [] : [SystemdNotifier.descriptorVariable + "=3"]
        var entry = environ
        while let pointer = entry.pointee {
            let variable = String(cString: pointer)
            if !dropped.contains(where: variable.hasPrefix) { environment.append(variable) }
            entry += 1
        }
        var pid: pid_t = 0
        let result = withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, argv, envp)
            }
        }
        if pair[1] >= 0 { close(pair[1]) }
        guard result == 0 else {
            if pair[0] >= 0 { close(pair[0]) }
            throw SpawnError(description: "posix_spawn /proc/self/exe: \(String(cString: strerror(result)))")
        }
        if let relay { relay.follow(pair[0]) }
        return pid
    }

    private static func withCStrings<Result>(
        _ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> Result
    ) -> Result {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return body(pointers)
    }

    /// The exit status systemd sees for the worker's end: its code, or 128 + the signal that killed it.
    static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    static func describe(_ status: Int32) -> String {
        let signal = status & 0x7F
        return signal == 0 ? "exit \((status >> 8) & 0xFF)" : "killed by signal \(signal)"
    }
}
