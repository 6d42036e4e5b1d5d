import NIOCore
import NIOHTTP2

/// One pooled TLS+HTTP/2 connection: performs what its `PooledConnectionStateMachine` decides (the idle timer,
/// closing, handing out the multiplexer). Used only on its event loop.
final class PooledConnection: @unchecked Sendable {
    let generation: UInt64
    let eventLoop: any EventLoop
    private let idleTimeout: TimeAmount
    private let multiplexerPromise: EventLoopPromise<NIOHTTP2Handler.StreamMultiplexer>
    private let closedPromise: EventLoopPromise<Void>
    private var channel: (any Channel)?
    private var idleTimer: Scheduled<Void>?
    private var machine = PooledConnectionStateMachine()

    init(generation: UInt64, idleTimeout: TimeAmount, eventLoop: any EventLoop) {
        self.generation = generation
        self.idleTimeout = idleTimeout
        self.eventLoop = eventLoop
        multiplexerPromise = eventLoop.makePromise()
        closedPromise = eventLoop.makePromise()
    }

    var multiplexer: EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer> { multiplexerPromise.futureResult }
    var channelClosed: EventLoopFuture<Void> { closedPromise.futureResult }
    var failure: (any Error)? { machine.failure }
    var streams: Int { machine.streams }
    /// Whether the peer said GOAWAY on this connection.
    private(set) var wentAway = false

    func canTakeStream(generation current: UInt64, limit: Int) -> Bool {
        generation == current && machine.canTakeStream(limit: limit)
    }

    func connected(channel: any Channel, multiplexer: NIOHTTP2Handler.StreamMultiplexer) {
        switch machine.connected() {
        case .closeChannel:
            channel.close(promise: nil)
            return
        case .ready:
            break
        case .readyAndIdle:
            startIdleTimer()
        }
        self.channel = channel
        channel.closeFuture.whenComplete { _ in
            switch self.machine.channelClosed() {
            case .cancelIdleTimerAndReportClosed:
                self.idleTimer?.cancel()
                self.idleTimer = nil
                self.closedPromise.succeed()
            }
        }
        multiplexerPromise.succeed(multiplexer)
    }

    /// The handshake or the connection failed: every waiting stream fails with this.
    func fail(_ error: any Error) {
        eventLoop.execute {
            switch self.machine.failed(error) {
            case .none:
                break
            case .failAndClose:
                self.multiplexerPromise.fail(error)
                if let channel = self.channel {
                    channel.close(promise: nil)
                } else {
                    self.closedPromise.succeed()
                }
            }
        }
    }

    /// A stream on this connection was answered: the peer speaks TLS and HBONE.
    func answered() {
        machine.answered()
    }

    /// A stream got no answer in time: gives the connection up if no stream on it ever was answered.
    func giveUpIfNeverAnswered(_ error: any Error) {
        switch machine.noAnswer() {
        case .none: break
        case .fail: fail(error)
        }
    }

    func streamStarted() {
        switch machine.streamStarted() {
        case .none:
            break
        case .cancelIdleTimer:
            idleTimer?.cancel()
            idleTimer = nil
        }
    }

    func streamEnded() {
        switch machine.streamEnded() {
        case .none: break
        case .startIdleTimer: startIdleTimer()
        case .close: channel?.close(promise: nil)
        }
    }

    /// The peer sent GOAWAY: no new stream here.
    func goAwayReceived() {
        wentAway = true
        switch machine.goAwayReceived() {
        case .none:
            break
        case .cancelIdleTimerAndClose:
            idleTimer?.cancel()
            idleTimer = nil
            channel?.close(promise: nil)
        }
    }

    private func startIdleTimer() {
        idleTimer?.cancel()
        idleTimer = eventLoop.scheduleTask(in: idleTimeout) { [self] in
            switch machine.idleTimerFired() {
            case .none: break
            case .close: channel?.close(promise: nil)
            }
        }
    }
}
