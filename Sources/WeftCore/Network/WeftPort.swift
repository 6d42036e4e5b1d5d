/// Every well-known port of Weft, defined once (ztunnel's conventions where they exist).
public enum WeftPort: UInt16, Sendable, CaseIterable {
    /// weft-node: outbound capture listener (loopback).
    case outboundCapture = 15001
    /// weft-node: inbound plaintext capture (PERMISSIVE / STRICT enforcement).
    case inboundPlaintext = 15006
    /// weft-node: HBONE mTLS inbound.
    case hbone = 15008
    /// weftd: node API (gRPC over mTLS).
    case nodeAPI = 15012
    /// weftd: join listener (server TLS).
    case join = 15013
    /// weft-node: node admin (/metrics, /healthz, /readyz, /config_dump, /certs; loopback by default).
    case nodeAdmin = 15020
    /// weft-node: DNS resolver (loopback).
    case dns = 15053
    /// weftd: admin REST API (and later the web UI).
    case adminAPI = 15443

    /// The ports weft-node itself listens on, which the capture must never redirect.
    public static let node: [WeftPort] = [.outboundCapture, .inboundPlaintext, .hbone, .nodeAdmin, .dns]
}
