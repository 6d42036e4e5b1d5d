import Hummingbird
import NIOCore

/// What the admin API knows about a request besides the request itself: the token that authenticated it.
public struct AdminRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``AdminAuthMiddleware``; nil only on the routes that need no token.
    public var token: AdminTokenRecord?
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = CoreRequestContextStorage(source: source)
        self.channel = source.channel
    }

    /// Who the audit log names for this request's changes: `token:<name>`.
    var actor: String { token.map { "token:\($0.name)" } ?? "anonymous" }

    /// Closes the connection once the response is written, instead of reading (and discarding) the rest of a
    /// request body the API refused.
    func closeConnectionAfterResponse() {
        // Hummingbird's connection handler closes after the response in progress when asked to quiesce.
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
    }
}
