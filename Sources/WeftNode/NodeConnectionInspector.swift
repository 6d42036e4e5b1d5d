import Glibc
import Logging
import NIOCore
import NIOPosix
import WeftCapture
import WeftCore
import WeftProxy

/// Tells the proxy what the capture did to an accepted connection: the original destination (SO_ORIGINAL_DST or
/// its IPv6 counterpart) and, for outbound connections, which local workload opened it (sock_diag + cgroup).
final class NodeConnectionInspector: CapturedConnectionInspector {
    /// How a listener learns who its clients are.
    enum Callers: Sendable {
        /// Inbound listeners: their clients are on other hosts.
        case remote
        /// The outbound listener: local processes, looked up by sock_diag and cgroup.
        case local(SourceIdentityResolver)
        /// The outbound listener on a node that cannot look callers up (why): every caller is unknown, so no
        /// mesh destination is reached unmeshed.
        case unresolvable(reason: String)
    }

    private let callers: Callers
    private let lookups: NIOThreadPool

    init(callers: Callers, lookups: NIOThreadPool = .singleton) {
        self.callers = callers
        self.lookups = lookups
    }

    func inspect(_ channel: any Channel) -> EventLoopFuture<CapturedConnection> {
        guard let provider = channel as? any SocketOptionProvider,
            let remote = channel.remoteAddress.flatMap(IPSocketAddress.init(nio:)),
            let local = channel.localAddress
        else {
            return channel.eventLoop.makeFailedFuture(InspectionError.notATCPSocket)
        }
        let isIPv6: Bool
        if case .v6 = local { isIPv6 = true } else { isIPv6 = false }
        let option = OriginalDestination.socketOption(forIPv6: isIPv6)
        let read: EventLoopFuture<sockaddr_in6> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(option.level), name: SocketOptionName(option.name))
        return read.flatMapError { error in
            if let error = error as? IOError, error.errnoCode == ENOENT {
                return channel.eventLoop.makeFailedFuture(OriginalDestination.Error.notRedirected)
            }
            return channel.eventLoop.makeFailedFuture(error)
        }.flatMapThrowing { storage in
            let destination = try OriginalDestination.decode(storage)
            // A client that dialled the listener itself: relaying it to its "original" destination would loop.
            if IPSocketAddress(nio: local) == destination { throw OriginalDestination.Error.notRedirected }
            return destination
        }.flatMap { destination in
            let listener = IPSocketAddress(nio: local)
            guard case .local = self.callers else {
                return channel.eventLoop.makeSucceededFuture(
                    CapturedConnection(
                        client: remote, originalDestination: destination,
                        source: self.source(remote, destination, listener: listener)))
            }
            // sock_diag, conntrack and cgroup lookups are syscalls and netlink round trips: off the event loop.
            return self.lookups.runIfActive(eventLoop: channel.eventLoop) {
                CapturedConnection(
                    client: remote, originalDestination: destination,
                    source: self.source(remote, destination, listener: listener))
            }
        }
    }

    private func source(_ client: IPSocketAddress, _ destination: IPSocketAddress, listener: IPSocketAddress?)
        -> ConnectionSource
    {
        switch callers {
        case .remote:
            return ConnectionSource()
        case .unresolvable(let reason):
            return ConnectionSource(identity: .unknown(reason: reason))
        case .local(let resolver):
            do {
                let workload = try resolver.workload(
                    client: client, originalDestination: destination, listener: listener)
                let identity: ConnectionSource.Identity =
                    switch workload.identity {
                    case .service(let name): .service(name)
                    case .noWorkload(let reason): .noWorkload(reason: reason)
                    }
                return ConnectionSource(identity: identity, cgroupPath: workload.cgroupPath, uid: workload.uid)
            } catch {
                return ConnectionSource(identity: .unknown(reason: error.description))
            }
        }
    }

    enum InspectionError: Error, CustomStringConvertible {
        case notATCPSocket
        var description: String { "the accepted channel is not a TCP socket with addresses" }
    }
}
