import WeftCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// How the node authenticates its metrics push: from a file on the node, so secrets never sit in the control
/// plane's settings (or in every node's config). Read at each push, so a rotated file takes effect.
public enum MetricsPushCredentials: Sendable, Equatable {
    /// `Authorization: Bearer <the file's content>`.
    case bearerTokenFile(String)
    /// `Authorization: Basic …` from a file holding `user:password`.
    case basicAuthFile(String)

    public struct Unreadable: Error, CustomStringConvertible {
        public var description: String
    }

    /// The `Authorization` header value.
    public func authorization() throws(Unreadable) -> String {
        let path: String
        switch self {
        case .bearerTokenFile(let file), .basicAuthFile(let file): path = file
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Unreadable(description: "cannot read the metrics push credentials file \(path)")
        }
        let secret = String(decoding: data, as: UTF8.self).trimmingWhitespace()
        guard !secret.isEmpty, !secret.contains(where: { $0.isNewline }) else {
            throw Unreadable(description: "\(path) must hold one line (a token, or user:password)")
        }
        switch self {
        case .bearerTokenFile:
            return "Bearer \(secret)"
        case .basicAuthFile:
            guard secret.contains(":") else { throw Unreadable(description: "\(path) must hold user:password") }
            return "Basic \(Data(secret.utf8).base64EncodedString())"
        }
    }
}
