#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A node with its endpoints, when it was last seen and its config stream. Encoded as the record's own fields
/// plus `last_seen`, `revision`, `endpoints` and `stream`.
public struct AdminNode: Sendable, Equatable, Codable {
    public var record: NodeRecord
    public var lastSeen: Date?
    public var revision: Int64
    public var endpoints: [EndpointRecord]
    /// nil when the node has no config stream to this weftd.
    public var stream: NodeStreamStatus?

    public init(
        record: NodeRecord, lastSeen: Date?, revision: Int64, endpoints: [EndpointRecord], stream: NodeStreamStatus?
    ) {
        self.record = record
        self.lastSeen = lastSeen
        self.revision = revision
        self.endpoints = endpoints
        self.stream = stream
    }

    public init(from decoder: any Decoder) throws {
        record = try NodeRecord(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        lastSeen = try container.decodeIfPresent(Date.self, forKey: .lastSeen)
        revision = try container.decode(Int64.self, forKey: .revision)
        endpoints = try container.decode([EndpointRecord].self, forKey: .endpoints)
        stream = try container.decodeIfPresent(NodeStreamStatus.self, forKey: .stream)
    }

    public func encode(to encoder: any Encoder) throws {
        try record.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(lastSeen, forKey: .lastSeen)
        try container.encode(revision, forKey: .revision)
        try container.encode(endpoints, forKey: .endpoints)
        try container.encodeIfPresent(stream, forKey: .stream)
    }

    enum CodingKeys: String, CodingKey {
        case revision, endpoints, stream
        case lastSeen = "last_seen"
    }
}

/// A node's config stream as one weftd sees it: the version sent, the last one the node acknowledged, and the last
/// it refused with its reason.
public struct NodeStreamStatus: Sendable, Equatable, Codable {
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

/// PUT /v1/nodes/{name}/egress. `egress` must be present; null follows the mesh's egress policy.
public struct EgressRequest: Sendable, Equatable, Codable {
    public var egress: EgressPolicy?

    public init(egress: EgressPolicy?) { self.egress = egress }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard container.contains(.egress) else {
            throw DecodingError.keyNotFound(
                CodingKeys.egress, .init(codingPath: [], debugDescription: "egress is required (null follows the mesh)")
            )
        }
        egress = try container.decodeIfPresent(EgressPolicy.self, forKey: .egress)
    }

    /// Writes `"egress": null` rather than leaving the key out.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(egress, forKey: .egress)
    }

    enum CodingKeys: String, CodingKey { case egress }
}

/// PUT /v1/nodes/{name}/addresses: the addresses the node's endpoints must be at.
public struct NodeAddressesRequest: Sendable, Equatable, Codable {
    public var addresses: [IPAddress]

    public init(addresses: [IPAddress]) { self.addresses = addresses }
}
