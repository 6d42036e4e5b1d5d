import Foundation

/// What this weftd knows of a node's config stream, for admins: the version sent, the last one the node
/// acknowledged, and the last it refused with its reason.
public struct NodeConnectionStatus: Sendable, Equatable, Codable {
    public var node: String
    public var connected: Bool
    public var sentVersion: UInt64?
    public var ackedVersion: UInt64?
    public var nackedVersion: UInt64?
    public var nackReason: String?
    public var lastChange: Date

    public init(
        node: String, connected: Bool, sentVersion: UInt64? = nil, ackedVersion: UInt64? = nil,
        nackedVersion: UInt64? = nil, nackReason: String? = nil, lastChange: Date
    ) {
        self.node = node
        self.connected = connected
        self.sentVersion = sentVersion
        self.ackedVersion = ackedVersion
        self.nackedVersion = nackedVersion
        self.nackReason = nackReason
        self.lastChange = lastChange
    }

    enum CodingKeys: String, CodingKey {
        case node, connected
        case sentVersion = "sent_version"
        case ackedVersion = "acked_version"
        case nackedVersion = "nacked_version"
        case nackReason = "nack_reason"
        case lastChange = "last_change"
    }
}

/// Where the admin API reads the node streams' status from (the config distributor).
public protocol NodeStatusSource: Sendable {
    func nodeConnectionStatus() -> [NodeConnectionStatus]
}
