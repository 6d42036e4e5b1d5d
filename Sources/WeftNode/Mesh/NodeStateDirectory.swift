import WeftCore
import WeftProxy

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// What a node keeps between runs (default /var/lib/weft-node, mode 0700; files 0600, replaced atomically): its
/// node credentials, the last good config, and its workload certificates and keys. With these a node starts and
/// serves while the control plane is away.
public struct NodeStateDirectory: Sendable {
    public let path: String

    public static let defaultPath = "/var/lib/weft-node"

    public enum Error: Swift.Error, CustomStringConvertible {
        case unusable(path: String, reason: String)

        public var description: String {
            switch self {
            case .unusable(let path, let reason): "node state \(path): \(reason)"
            }
        }
    }

    /// Creates the directory (0700) when missing and tightens its mode when it exists.
    public init(path: String) throws(Error) {
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            guard chmod(path, 0o700) == 0 else {
                throw Error.unusable(path: path, reason: String(cString: strerror(errno)))
            }
        } catch let error as Error {
            throw error
        } catch {
            throw .unusable(path: path, reason: "cannot create it: \(SystemErrorText.describe(error))")
        }
    }

    private var credentialsFile: String { path + "/node-credentials.json" }
    private var configFile: String { path + "/config.json" }
    private var workloadsFile: String { path + "/workload-certificates.json" }

    public func loadCredentials() throws(Error) -> NodeCredentials? { try read(NodeCredentials.self, credentialsFile) }
    public func save(_ credentials: NodeCredentials) throws(Error) { try write(credentials, credentialsFile) }

    /// The last good config: its version and resources.
    public struct StoredConfig: Codable, Sendable {
        public var version: UInt64
        public var resources: [StoredResource]
    }

    public struct StoredResource: Codable, Sendable {
        public var name: String
        public var payload: Data
    }

    public func loadConfig() throws(Error) -> StoredConfig? { try read(StoredConfig.self, configFile) }

    public func saveConfig(version: UInt64, resources: [ConfigResource]) throws(Error) {
        let stored = StoredConfig(
            version: version,
            resources: resources.sorted { $0.name < $1.name }.map { StoredResource(name: $0.name, payload: $0.payload) }
        )
        try write(stored, configFile)
    }

    /// Workload certificates by `namespace/name`.
    public struct StoredWorkload: Codable, Sendable {
        public var identity: String
        public var certificateChainPEM: String
        public var privateKeyPEM: String
    }

    public func loadWorkloads() throws(Error) -> [String: StoredWorkload] {
        try read([String: StoredWorkload].self, workloadsFile) ?? [:]
    }

    public func saveWorkloads(_ workloads: [ServiceName: TLSIdentity]) throws(Error) {
        var stored: [String: StoredWorkload] = [:]
        for (service, identity) in workloads {
            stored["\(service.namespace)/\(service.name)"] = StoredWorkload(
                identity: identity.identity.description, certificateChainPEM: identity.certificateChainPEM,
                privateKeyPEM: identity.privateKeyPEM)
        }
        try write(stored, workloadsFile)
    }

    private func read<T: Decodable>(_ type: T.Type, _ file: String) throws(Error) -> T? {
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        do {
            return try JSONDecoder().decode(type, from: Data(contentsOf: URL(fileURLWithPath: file)))
        } catch {
            throw .unusable(path: file, reason: "unreadable (\(error)); move it away to start afresh")
        }
    }

    private func write<T: Encodable>(_ value: T, _ file: String) throws(Error) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let temporary = file + ".tmp"
        do {
            let data = try encoder.encode(value)
            guard
                FileManager.default.createFile(
                    atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600])
            else {
                throw Error.unusable(path: temporary, reason: "cannot write it")
            }
            guard rename(temporary, file) == 0 else {
                throw Error.unusable(path: file, reason: String(cString: strerror(errno)))
            }
        } catch let error as Error {
            throw error
        } catch {
            throw .unusable(path: file, reason: "\(error)")
        }
    }
}
