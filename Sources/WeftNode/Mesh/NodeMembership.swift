import Logging
import WeftCore
import WeftProxy

/// A node's place in the mesh, established before anything runs: credentials (joining first when there are none),
/// the last good config, and the certificates it holds.
struct NodeMembership: Sendable {
    let stateDirectory: NodeStateDirectory
    let certificates: NodeCertificates
    let cache: ConfigCache
    let controlPlane: IPSocketAddress
    let credentials: NodeCredentials

    /// Why a node cannot take its place in the mesh.
    enum Error: Swift.Error, CustomStringConvertible {
        case noCredentials(stateDirectory: String)
        case join(ControlPlaneClientError)

        var description: String {
            switch self {
            case .noCredentials(let directory):
                "this node has not joined the mesh: no credentials in \(directory); give a join token (weftctl node token create --name <node>) with --join-token or --join-token-file"
            case .join(let error): "cannot join the mesh: \(error)"
            }
        }
    }

    static func establish(
        settings: NodeSettings, controlPlane: IPSocketAddress, tls: MeshTLSStore, logger: Logger
    ) async throws -> NodeMembership {
        let stateDirectory = try NodeStateDirectory(path: settings.stateDirectory)
        let credentials = try await credentials(
            settings: settings, stateDirectory: stateDirectory, controlPlane: controlPlane, logger: logger)
        let cache = loadCache(stateDirectory, logger: logger)
        let certificates = NodeCertificates(
            credentials: credentials, stateDirectory: stateDirectory, tls: tls, logger: logger)
        try await certificates.publish(trustBundlePEM: cache.config?.trustBundlePEM)
        return NodeMembership(
            stateDirectory: stateDirectory, certificates: certificates, cache: cache, controlPlane: controlPlane,
            credentials: credentials)
    }

    /// What the proxy starts with: the last good config, or an empty one of this node's trust domain.
    func initialConfig(hbonePort: UInt16, logger: Logger) -> ProxyConfig {
        if let config = cache.config {
            logger.info("starting from the last good config", metadata: ["version": "\(config.version)"])
            return ProxyConfig(config, hbonePort: hbonePort)
        }
        return ProxyConfig(
            state: NodeState(config: NodeConfig(version: 0, node: credentials.nodeName)),
            trustDomain: credentials.trustDomain, hbonePort: hbonePort)
    }

    private static func credentials(
        settings: NodeSettings, stateDirectory: NodeStateDirectory, controlPlane: IPSocketAddress, logger: Logger
    ) async throws -> NodeCredentials {
        if let stored = try stateDirectory.loadCredentials() { return stored }
        guard let token = settings.joinToken else { throw Error.noCredentials(stateDirectory: stateDirectory.path) }
        let joinAddress =
            settings.joinAddress ?? IPSocketAddress(address: controlPlane.address, port: WeftPort.join.rawValue)
        let joined: NodeCredentials
        do {
            joined = try await ControlPlaneJoin.join(
                address: joinAddress, token: token, nodeName: settings.nodeName,
                addresses: settings.registeredAddresses())
        } catch {
            throw Error.join(error)
        }
        try stateDirectory.save(joined)
        logger.info(
            "joined the mesh", metadata: ["node": "\(joined.nodeName)", "trustDomain": "\(joined.trustDomain)"])
        return joined
    }

    private static func loadCache(_ stateDirectory: NodeStateDirectory, logger: Logger) -> ConfigCache {
        do {
            guard let stored = try stateDirectory.loadConfig() else { return ConfigCache() }
            return try ConfigCache(
                version: stored.version,
                resources: stored.resources.map { ConfigResource(name: $0.name, payload: $0.payload) })
        } catch {
            logger.error("the stored config is unusable, starting without it: \(error)")
            return ConfigCache()
        }
    }
}
