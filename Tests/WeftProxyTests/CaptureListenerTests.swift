import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
import WeftCore

@testable import WeftProxy

#if canImport(Glibc)
    import Glibc
#endif

/// A `CaptureListener` on 127.0.0.1 through its seam: a fixed inspector (every connection was captured on its way to
/// the echo workload), the real router under test, and a NIO client: RST on refuse, bytes on forward, one access-log
/// line each.
@Suite(.timeLimit(.minutes(1)))
struct CaptureListenerTests {
    /// Says every accepted connection was on its way to `destination` when the capture redirected it.
    struct FixedInspector: CapturedConnectionInspector {
        var destination: IPSocketAddress
        var source = ConnectionSource()

        func inspect(_ channel: any Channel) -> EventLoopFuture<CapturedConnection> {
            let client = channel.remoteAddress.flatMap(IPSocketAddress.init(nio:)) ?? IPSocketAddress("127.0.0.1:1")!
            return channel.eventLoop.makeSucceededFuture(
                CapturedConnection(client: client, originalDestination: destination, source: source))
        }
    }

    /// What the client end of one connection saw.
    final class ClientCollector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        private let state = NIOLockedValueBox((received: "", inputClosed: false, reset: false, inactive: false))

        var received: String { state.withLockedValue { $0.received } }
        var inputClosed: Bool { state.withLockedValue { $0.inputClosed } }
        var reset: Bool { state.withLockedValue { $0.reset } }
        var inactive: Bool { state.withLockedValue { $0.inactive } }
        /// The listener ended the connection in order: its FIN arrived (a client that shut its own output first
        /// sees that as the channel closing), not a reset.
        var ended: Bool { state.withLockedValue { ($0.inputClosed || $0.inactive) && !$0.reset } }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            state.withLockedValue { $0.received += String(buffer: buffer) }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { state.withLockedValue { $0.inputClosed = true } }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if let error = error as? IOError, error.errnoCode == ECONNRESET {
                state.withLockedValue { $0.reset = true }
            }
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLockedValue { $0.inactive = true }
            context.fireChannelInactive()
        }
    }

    /// A listener in `role` with `router` in front of an echo workload, for the time of `body`.
    struct Harness {
        let group: MultiThreadedEventLoopGroup
        let workload: EchoWorkload
        let listenerAddress: SocketAddress
        let accessLines: @Sendable () -> [String]

        static func run(
            role: ListenerRole, router: (EchoWorkload) -> any ConnectionRouter,
            config: ProxyConfig = OutboundRouterTests.config(), destination: ((EchoWorkload) -> IPSocketAddress)? = nil,
            _ body: (Harness) async throws -> Void
        ) async throws {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let workload = try await EchoWorkload.start(on: group)
            let runtime = Mesh.runtime(config)
            let listener = CaptureListener(
                configuration: .init(role: role, bindAddresses: [IPSocketAddress("127.0.0.1:0")!]), group: group,
                inspector: FixedInspector(destination: destination?(workload) ?? workload.address),
                router: router(workload), runtime: runtime.runtime, logger: Mesh.quietLogger)
            do {
                let bound = try await listener.start()
                let harness = Harness(
                    group: group, workload: workload, listenerAddress: try #require(bound.first),
                    accessLines: runtime.accessLines)
                try await body(harness)
            } catch {
                await listener.shutdown()
                await workload.close()
                try? await group.shutdownGracefully()
                throw error
            }
            await listener.shutdown()
            await workload.close()
            try await group.shutdownGracefully()
        }

        /// Connects a client; `send` is written and the client's output shut at once, in one go.
        func connect(sendingAndHalfClosing send: String? = nil) async throws -> (any Channel, ClientCollector) {
            let collector = ClientCollector()
            let channel = try await ClientBootstrap(group: group)
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
                }
                .connect(to: listenerAddress).get()
            if let send {
                try await channel.eventLoop.flatSubmit {
                    channel.writeAndFlush(ByteBuffer(string: send), promise: nil)
                    return channel.close(mode: .output)
                }.get()
            }
            return (channel, collector)
        }

        var entries: [AccessLogEntry] { Mesh.entries(accessLines()) }

        /// The one access-log line, once written (nil if none or more than one).
        func onlyEntry() async -> AccessLogEntry? {
            guard await eventually({ !accessLines().isEmpty }) else { return nil }
            try? await Task.sleep(for: .milliseconds(50))  // a second line would be a bug: give it a moment to show
            let entries = self.entries
            return entries.count == 1 ? entries[0] : nil
        }
    }

    static func plaintextRouter(_ mode: MeshMode) -> (EchoWorkload) -> any ConnectionRouter {
        { workload in InboundPlaintextRouter(ports: [workload.address.port: .init(mode: mode, service: Mesh.backend)]) }
    }

    @Test func aForwardedConnectionCarriesBytesBothWaysAndIsLoggedOnce() async throws {
        try await Harness.run(role: .outbound, router: { _ in OutboundRouter() }) { harness in
            let (channel, client) = try await harness.connect()
            try await channel.writeAndFlush(ByteBuffer(string: "ping"))
            #expect(await eventually { client.received == "ping" })
            try await channel.close(mode: .output)
            #expect(
                await eventually { client.received == "pingbye" && client.ended },
                "\(client.received) \(client.inputClosed) \(client.reset) \(harness.accessLines())")
            #expect(!client.reset)
            let entry = try #require(await harness.onlyEntry())
            #expect(entry.result == .forwarded && entry.direction == .outbound)
            #expect(entry.upstream == harness.workload.address.description)
            #expect(entry.bytesSent == 4 && entry.bytesReceived == 7)
            #expect(harness.accessLines().first?.contains(#""result":"forwarded""#) == true)
            try? await channel.close()
        }
    }

    @Test func aRefusedConnectionIsResetAndLoggedOnce() async throws {
        try await Harness.run(
            role: .outbound, router: { _ in OutboundRouter() }, config: OutboundRouterTests.config(egress: .refuse)
        ) { harness in
            let (_, client) = try await harness.connect()
            #expect(await eventually { client.inactive })
            #expect(client.reset, "a refusal is a reset, not an orderly end")
            #expect(client.received.isEmpty)
            #expect(harness.workload.accepted == 0)
            let entry = try #require(await harness.onlyEntry())
            #expect(entry.result == .refused && entry.reason?.contains("egress is refused") == true)
        }
    }

    @Test func aStrictPortResetsPlaintextAndAPermissiveOneForwardsIt() async throws {
        try await Harness.run(role: .inboundPlaintext, router: Self.plaintextRouter(.strict)) { harness in
            let (_, client) = try await harness.connect()
            #expect(await eventually { client.inactive })
            #expect(client.reset)
            let entry = try #require(await harness.onlyEntry())
            #expect(entry.result == .refused && entry.direction == .inboundPlaintext)
            #expect(entry.destinationService == "backend")
            let line = try #require(harness.accessLines().first)
            #expect(line.contains(#""direction":"inbound_plaintext""#) && line.contains(#""result":"refused""#))
        }
        try await Harness.run(role: .inboundPlaintext, router: Self.plaintextRouter(.permissive)) { harness in
            let (_, client) = try await harness.connect(sendingAndHalfClosing: "ping")
            #expect(
                await eventually { client.received == "pingbye" && client.ended },
                "\(client.received) \(client.inputClosed) \(client.reset) \(harness.accessLines())")
            let entry = try #require(await harness.onlyEntry())
            #expect(entry.result == .forwarded && entry.sourceService == nil && entry.destinationService == "backend")
        }
    }

    @Test func aClientThatSendsAndHalfClosesAtOnceStillGetsItsAnswer() async throws {
        try await Harness.run(role: .outbound, router: { _ in OutboundRouter() }) { harness in
            for _ in 0..<20 {
                let (channel, client) = try await harness.connect(sendingAndHalfClosing: "ping")
                #expect(
                    await eventually { client.received == "pingbye" && client.ended },
                    "\(client.received) \(client.inputClosed) \(client.reset) \(harness.accessLines())")
                try? await channel.close()
            }
            #expect(await eventually { harness.entries.count == 20 })
            #expect(harness.entries.allSatisfy { $0.result == .forwarded && $0.bytesSent == 4 })
        }
    }

    @Test func anUpstreamThatRefusesTheConnectionIsAFailure() async throws {
        let dead = try await EchoWorkload.deadAddress(on: MultiThreadedEventLoopGroup.singleton)
        try await Harness.run(role: .outbound, router: { _ in OutboundRouter() }, destination: { _ in dead }) {
            harness in
            let (_, client) = try await harness.connect()
            #expect(await eventually { client.inactive })
            #expect(client.reset)
            let entry = try #require(await harness.onlyEntry())
            #expect(entry.result == .failed && entry.reason?.contains("connect to \(dead)") == true)
        }
    }
}
