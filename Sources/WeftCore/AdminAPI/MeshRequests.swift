/// PUT /v1/mesh/default: what happens when no intention matches.
public struct DefaultActionRequest: Sendable, Equatable, Codable {
    public var action: IntentionAction

    public init(action: IntentionAction) { self.action = action }
}

/// PUT /v1/mesh/mode.
public struct MeshModeRequest: Sendable, Equatable, Codable {
    public var mode: MeshMode

    public init(mode: MeshMode) { self.mode = mode }
}
