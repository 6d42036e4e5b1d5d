import Glibc
import Logging
import NIOCore
import WeftCapture
import WeftCore
import WeftProxy

/// Tells the proxy what the capture did to an accepted connection: the original destination (SO_ORIGINAL_DST or
/// its IPv6 counterpart) and, for outbound connections, which local workload opened it (sock_diag + cgroup).
final class NodeConnectionInspector: CapturedConnectionInspector {
    private let identities: SourceIdentityResolver?

    /// `identities` is nil for inbound listeners: their clients are on other hosts.
    init(identities: SourceIdentityResolver?) {
        self.identities = identities
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
            var source = ConnectionSource()
            if let identities = self.identities,
                let workload = try identities.workload(client: remote, originalDestination: destination)
            {
                source = ConnectionSource(
                    service: workload.serviceName, cgroupPath: workload.cgroupPath, uid: workload.uid)
            }
            return CapturedConnection(client: remote, originalDestination: destination, source: source)
        }
    }

    enum InspectionError: Error, CustomStringConvertible {
        case notATCPSocket
        var description: String { "the accepted channel is not a TCP socket with addresses" }
    }
}
