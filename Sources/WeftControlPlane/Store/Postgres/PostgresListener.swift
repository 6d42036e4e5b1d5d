import Logging
import PostgresNIO
import Synchronization
import WeftCore

/// The store's LISTEN connection: hands every revision committed to the database (by any process) to the store's
/// broadcaster.
///
/// It is its own connection, not one from the pool: a pooled connection goes back to the pool between queries, and
/// LISTEN belongs to a session. When the connection drops, it reconnects with exponential backoff (0.1 s doubling up
/// to 5 s) and then publishes the current revision, since notifications sent in between are lost.
final class PostgresListener: Sendable {
    static let channel = "weft_changes"

    private struct State {
        var task: Task<Void, Never>?
        var connection: PostgresConnection?
        var listening = false
        var lastError: String?
        var stopped = false
    }

    private let state = Mutex(State())
    private let configuration: PostgresConnection.Configuration
    private let server: String
    private let broadcaster: RevisionBroadcaster
    private let logger: Logger

    init(
        configuration: PostgresConnection.Configuration, server: String, broadcaster: RevisionBroadcaster,
        logger: Logger
    ) {
        self.configuration = configuration
        self.server = server
        self.broadcaster = broadcaster
        self.logger = logger
    }

    /// Starts listening in the background, once.
    func start() {
        state.withLock { state in
            guard !state.stopped, state.task == nil else { return }
            state.task = Task { await self.run() }
        }
    }

    /// Waits until LISTEN is in place (started if need be).
    func waitUntilListening(timeout: Duration) async throws(StoreError) {
        start()
        let deadline = ContinuousClock.now + timeout
        while true {
            let (listening, stopped, lastError) = state.withLock { ($0.listening, $0.stopped, $0.lastError) }
            if listening { return }
            if stopped { throw .unavailable("the store is closed") }
            if ContinuousClock.now >= deadline {
                throw .unavailable(
                    "cannot LISTEN for changes on \(server) within \(timeout): \(lastError ?? "no answer")"
                )
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    func stop() async {
        let (task, connection) = state.withLock { state in
            state.stopped = true
            return (state.task, state.connection)
        }
        task?.cancel()
        if let connection {
            try? await connection.close()
        }
        await task?.value
    }

    /// Stops without waiting (for a store that is dropped without `close()`).
    func cancel() {
        let (task, connection) = state.withLock { state in
            state.stopped = true
            return (state.task, state.connection)
        }
        task?.cancel()
        if let connection {
            let _: EventLoopFuture<Void> = connection.close()
        }
    }

    private func run() async {
        var backoff = Backoff(base: .milliseconds(100), cap: .seconds(5), jitter: 0)
        var listenedBefore = false
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: configuration, id: 0, logger: logger
                )
                let keep = state.withLock { state in
                    guard !state.stopped else { return false }
                    state.connection = connection
                    return true
                }
                guard keep else {
                    try? await connection.close()
                    return
                }
                do {
                    try await connection.listen(on: Self.channel) { notifications in
                        let reconnected = listenedBefore
                        listenedBefore = true
                        backoff.succeeded()
                        state.withLock { state in
                            state.listening = true
                            state.lastError = nil
                        }
                        if reconnected {
                            // Whatever was committed while we were away: consumers re-read from this revision.
                            let rows = try await connection.query(
                                "SELECT revision FROM meta WHERE id = 1", logger: logger
                            )
                            for try await revision in rows.decode(Int64.self) {
                                broadcaster.publish(revision, force: true)
                            }
                        }
                        for try await notification in notifications {
                            if let revision = Int64(notification.payload) {
                                broadcaster.publish(revision)
                            }
                        }
                    }
                } catch {
                    record(error)
                }
                state.withLock { state in
                    state.listening = false
                    state.connection = nil
                }
                try? await connection.close()
            } catch {
                record(error)
            }
            if Task.isCancelled { break }
            let delay = backoff.failed()
            logger.debug("LISTEN connection lost; reconnecting", metadata: ["in": "\(delay)"])
            try? await Task.sleep(for: delay)
        }
    }

    private func record(_ error: any Error) {
        let description = PostgresErrors.describe(error, server: server)
        logger.debug("LISTEN connection failed", metadata: ["error": "\(description)"])
        state.withLock { $0.lastError = description }
    }
}
