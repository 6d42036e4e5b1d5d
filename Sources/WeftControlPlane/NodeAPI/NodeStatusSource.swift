import WeftCore

/// Where the admin API reads the node streams' status from (the config distributor).
public protocol NodeStatusSource: Sendable {
    func nodeStreamStatus() -> [NodeStreamStatus]
}
