import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import WeftCore

/// One inbound CONNECT stream: decides, connects to the workload, answers, then relays.
final class HBONEInboundStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let client: String
    private let peer: PeerIdentity
    let runtime: ProxyRuntime
    private var requested = false
    var established = false
    private var held = HeldFrames()

    init(client: String, peer: PeerIdentity, runtime: ProxyRuntime) {
        self.client = client
        self.peer = peer
        self.runtime = runtime
    }

    func channelActive(context: ChannelHandlerContext) {
        context.read()
        context.fireChannelActive()
    }

    func read(context: ChannelHandlerContext) {
        if established { held.release(context: context) }
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !requested else {
            held.pass(data, context: context)
            return
        }
        guard case .headers(let headers) = unwrapInboundIn(data) else {
            context.close(promise: nil)
            return
        }
        requested = true
        handle(headers.headers, context: context)
    }

    /// Asks the router, then refuses or connects to the workload, answers 200 and relays.
    private func handle(_ headers: HPACKHeaders, context: ChannelHandlerContext) {
        let identity = peer.identity.withLockedValue { $0 }
        let decision = HBONEInboundRouter.decide(request: headers, peer: identity, config: runtime.config.current)
        var record = ConnectionRecord(
            role: .inbound, client: client, destination: headers.first(name: ":authority") ?? "-",
            labels: ProxyMetrics.Labels(
                reporter: .destination, source: decision.source, destination: decision.destination))
        record.entry.sourceIdentity = identity?.description
        record.entry.requestID = headers.first(name: HBONERequest.requestIDHeader)
        switch decision.outcome {
        case .failure(let refusal):
            refuse(refusal, record: record, context: context)
        case .success(let accept):
            record.entry.upstream = accept.request.authority.description
            connect(accept, record: record, context: context)
        }
    }

    private func connect(_ accept: InboundAccept, record: ConnectionRecord, context: ChannelHandlerContext) {
        let stream = context.channel
        let authority = accept.request.authority
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        runtime.connector.connect(to: authority, on: context.eventLoop).whenComplete { result in
            let (handler, context) = bound.value
            switch result {
            case .failure(let error):
                handler.refuse(
                    .unavailable(
                        "workload \(accept.destination) at \(authority) is down: \(error)", result: .failed),
                    record: record, context: context)
            case .success(let upstream):
                do {
                    try stream.pipeline.syncOperations.addHandler(HBONEStreamAdapter())
                    // Before the relay's first read, which releases frames the client sent ahead of our answer.
                    handler.established = true
                    try record.relay(downstream: stream, upstream: upstream, runtime: handler.runtime) {
                        stream.close(promise: nil)
                    }
                    let ok = HTTP2Frame.FramePayload.headers(.init(headers: [":status": "200"]))
                    context.writeAndFlush(handler.wrapOutboundOut(ok), promise: nil)
                } catch {
                    upstream.close(promise: nil)
                    handler.refuse(
                        .unavailable("cannot relay: \(error)", result: .failed), record: record, context: context)
                }
            }
        }
    }

    /// Answers with the refusal's status and reason, ends the stream and records it.
    func refuse(_ refusal: Refusal, record: ConnectionRecord, context: ChannelHandlerContext) {
        record.refused(refusal, runtime: runtime)
        let headers = HPACKHeaders([
            (":status", String(refusal.status.code)), (HBONEError.reasonHeader, Self.headerSafe(refusal.reason)),
        ])
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers, endStream: true)))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// Header values may not hold control characters.
    private static func headerSafe(_ text: String) -> String {
        String(
            String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }).prefix(
                512))
    }
}
