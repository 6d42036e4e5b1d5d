import WeftCore

/// Where the admin API reads the node streams' status from (the config distributor), and which stored records
/// config distribution had to leave out.
public protocol NodeStatusSource: Sendable {
    func nodeStreamStatus() -> [NodeStreamStatus]
    /// Stored records left out of config because they cannot be decoded, by kind and name.
    func undecodableRecords() -> [UndecodableRecord]
}

extension NodeStatusSource {
    public func undecodableRecords() -> [UndecodableRecord] { [] }
}
