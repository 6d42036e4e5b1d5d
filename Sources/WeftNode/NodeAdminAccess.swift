import Glibc
import NIOCore
import NIOPosix
import WeftCapture
import WeftCore

/// Who may read the node admin endpoint: `/metrics`, `/healthz` and `/readyz` are for anyone who can reach it;
/// `/config_dump` and `/certs` (the mesh's services, endpoints, policy and this node's certificates) only for root
/// and the node's own user on this host, as the kernel reports the owner of the connecting socket.
struct NodeAdminAccess: Sendable {
    /// Why a caller may not read a path.
    struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    private let sockets: Result<SocketDiagnostics, Refusal>
    private let trustedUIDs: Set<UInt32>
    private let lookups: NIOThreadPool

    /// Checks callers with the sock_diag socket table of the current network namespace.
    init(trustedUIDs: Set<UInt32> = [0, getuid()], lookups: NIOThreadPool = .singleton) {
        self.sockets = Result { try SocketDiagnostics() }.mapError {
            Refusal(
                reason: "the node cannot check who is asking (\($0)), so it answers only /metrics, /healthz and /readyz"
            )
        }
        self.trustedUIDs = trustedUIDs
        self.lookups = lookups
    }

    static func isPrivileged(_ path: String) -> Bool {
        path == "/config_dump" || path == "/certs"
    }

    /// Nil when `client`, connected to the admin listener at `server`, may read `path`; otherwise why not.
    func refusal(path: String, client: IPSocketAddress, server: IPSocketAddress) async -> Refusal? {
        guard Self.isPrivileged(path) else { return nil }
        guard client.address.isLoopback else {
            return Refusal(reason: "\(path) is served only to root on the node's own host; \(client) is remote")
        }
        let sockets: SocketDiagnostics
        switch self.sockets {
        case .success(let s): sockets = s
        case .failure(let refusal): return refusal
        }
        let owner: SocketOwner?
        do {
            // A sock_diag round trip is a syscall: off the event loops.
            owner = try await lookups.runIfActive { try sockets.owner(ofTCPConnectionFrom: client, to: server) }
        } catch {
            return Refusal(reason: "cannot tell who is asking for \(path): \(error)")
        }
        guard let owner else {
            return Refusal(reason: "cannot tell who is asking for \(path): no local socket \(client) → \(server)")
        }
        guard trustedUIDs.contains(owner.uid) else {
            return Refusal(
                reason: "\(path) is served only to root and the node's own user; the caller runs as uid \(owner.uid)")
        }
        return nil
    }
}
