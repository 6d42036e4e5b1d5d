#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Something a node registered that the control plane did not accept, kept on the node for admins to see
/// (`weftctl node show NODE`). The rest of the registration is accepted.
public struct RefusedClaim: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    public enum Reason: String, Sendable, Codable {
        /// An endpoint at an address that was not fixed for the node at join.
        case addressNotFixed = "address-not-fixed"
        /// A service placed on other nodes: an admin must allow this one (`weftctl service allow-node`).
        case notPlaced = "not-placed"
        /// More client-only workloads than a node may have.
        case clientLimit = "client-limit"
        /// An external service: it has no endpoints on nodes.
        case externalService = "external-service"
    }

    public var service: ServiceName
    /// For `addressNotFixed`: the address refused.
    public var address: IPAddress?
    public var reason: Reason
    /// What to do about it.
    public var message: String

    public init(service: ServiceName, address: IPAddress? = nil, reason: Reason, message: String) {
        self.service = service
        self.address = address
        self.reason = reason
        self.message = message
    }

    public var description: String { "\(service): \(message)" }
}
