import Synchronization
import WeftAPI
import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The resources a node holds and the last good config made from them. An update is applied to a copy; only
/// when the copy assembles into a valid config does it replace what is held.
public final class ConfigCache: Sendable {
    public struct Held: Sendable, Equatable {
        public var version: UInt64
        public var resourceVersions: [String: String]
    }

    /// What an applied update changed, for logs and tests.
    public struct UpdateSummary: Sendable, Equatable {
        public var version: UInt64
        public var changed: [String]
        public var removed: [String]
    }

    struct State {
        var version: UInt64 = 0
        var resources: [String: ConfigResource] = [:]
        var config: CompiledNodeConfig?
    }

    let state: Mutex<State>

    public init() {
        state = Mutex(State())
    }

    /// Starts from resources kept on disk (the last good config), so a restarted node subscribes with them.
    public init(version: UInt64, resources: [ConfigResource]) throws(CompiledNodeConfig.AssemblyError) {
        let byName = Dictionary(resources.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        let config = try CompiledNodeConfig(version: version, resources: byName)
        state = Mutex(State(version: version, resources: byName, config: config))
    }

    public var held: Held {
        state.withLock { Held(version: $0.version, resourceVersions: $0.resources.mapValues(\.version)) }
    }

    public var config: CompiledNodeConfig? { state.withLock { $0.config } }

    public var resources: [ConfigResource] { state.withLock { Array($0.resources.values) } }

    func apply(_ update: Weft_Node_V1_ConfigUpdate) -> Result<
        (CompiledNodeConfig, UpdateSummary), CompiledNodeConfig.AssemblyError
    > {
        state.withLock { state in
            var resources = state.resources
            for resource in update.resources {
                let made = ConfigResource(name: resource.name, payload: resource.payload)
                guard made.version == resource.version else {
                    return .failure(
                        .undecodable(
                            resource: resource.name,
                            reason: "the payload does not match its version \(resource.version)"))
                }
                resources[resource.name] = made
            }
            for name in update.removed { resources[name] = nil }
            let config: CompiledNodeConfig
            do throws(CompiledNodeConfig.AssemblyError) {
                config = try CompiledNodeConfig(version: update.version, resources: resources)
            } catch {
                return .failure(error)
            }
            state = State(version: update.version, resources: resources, config: config)
            let summary = UpdateSummary(
                version: update.version, changed: update.resources.map(\.name), removed: update.removed)
            return .success((config, summary))
        }
    }
}
