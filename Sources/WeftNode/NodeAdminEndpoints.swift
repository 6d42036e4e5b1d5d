import WeftCore
import WeftProxy

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the node admin endpoint answers: /metrics, /healthz, /readyz (with the readiness still pending),
/// /config_dump and /certs.
struct NodeAdminEndpoints: Sendable {
    let metrics: ProxyMetrics
    let readiness: NodeReadiness
    let configStore: ProxyConfigStore
    let live: LiveConnections
    let tunnels: HBONEConnectionPool?
    let certificates: NodeCertificates?

    func respond(to path: String) async -> NodeAdminServer.Response {
        switch path {
        case "/metrics":
            return .init(status: .ok, contentType: "text/plain; version=0.0.4", body: metrics.exposition())
        case "/healthz":
            return .text("ok\n")
        case "/readyz":
            var reasons: [String] = []
            let pending = readiness.pending
            if !pending.isEmpty { reasons.append("waiting for \(pending.map(\.rawValue).joined(separator: ", "))") }
            let now = Date()
            reasons += await certificates?.validities().compactMap { $0.degradation(at: now) } ?? []
            guard reasons.isEmpty else {
                return .text(reasons.map { "not ready: \($0)\n" }.joined(), status: .serviceUnavailable)
            }
            return .text("ready\n")
        case "/config_dump":
            return .json(
                Self.configDump(configStore.current, live: live.count, tunnels: tunnels?.connectionCount ?? 0))
        case "/certs":
            let rows = await certificates?.summary() ?? []
            return .json(Self.json(["certificates": rows]))
        default:
            return .text("not found; try /metrics, /healthz, /readyz, /config_dump, /certs\n", status: .notFound)
        }
    }

    static func configDump(_ config: ProxyConfig, live: Int, tunnels: Int) -> String {
        struct Dump: Encodable {
            var node: NodeConfig
            var policy: AuthorizationPolicy
            var trust_domain: String
            var open_connections: Int
            var tunnel_connections: Int
        }
        return json(
            Dump(
                node: config.state.config, policy: config.policy, trust_domain: config.trustDomain,
                open_connections: live, tunnel_connections: tunnels))
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
