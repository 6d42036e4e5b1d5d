import Crypto
import Foundation
import WeftCore

/// A one-time join token as stored: only a hash of its secret.
public struct JoinTokenRecord: Sendable, Equatable, Codable {
    public var id: String
    /// The node that may join with it.
    public var nodeName: String
    public var secretSHA256: String
    public var createdAt: Date
    public var expiresAt: Date
    public var createdBy: String
    public var usedAt: Date?
    public var revokedAt: Date?
    /// The node's addresses, fixed by the token; nil when the node declares them at join.
    public var addresses: [IPAddress]?

    enum CodingKeys: String, CodingKey {
        case id, addresses
        case nodeName = "node_name"
        case secretSHA256 = "secret_sha256"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case createdBy = "created_by"
        case usedAt = "used_at"
        case revokedAt = "revoked_at"
    }

    public func state(at now: Date) -> String {
        if revokedAt != nil { return "revoked" }
        if usedAt != nil { return "used" }
        if expiresAt <= now { return "expired" }
        return "valid"
    }
}

public struct AdminTokenRecord: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var scope: AdminTokenScope
    public var secretSHA256: String
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, name, scope
        case secretSHA256 = "secret_sha256"
        case createdAt = "created_at"
    }
}

/// Token strings: `<prefix>.<id>.<secret>`, with the CA fingerprint appended to join tokens so that a joining node
/// can check it talks to the right control plane before it trusts anything.
enum TokenText {
    static let joinPrefix = "weftjoin"
    static let adminPrefix = "weftadmin"

    static func random(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let raw = (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return raw.map { String(format: "%02x", $0) }.joined()
    }

    static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Compares two hex digests without an early exit.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<x.count { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    struct Parsed {
        var id: String
        var secret: String
        var fingerprint: String?
    }

    static func parse(_ text: String, prefix: String) -> Parsed? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, parts[0] == prefix, !parts[1].isEmpty, !parts[2].isEmpty else { return nil }
        return Parsed(id: parts[1], secret: parts[2], fingerprint: parts.count > 3 ? parts[3] : nil)
    }
}

/// A join token as the node receives it.
public struct JoinToken: Sendable, Equatable {
    public var id: String
    public var secret: String
    /// SHA-256 of the trust bundle's root certificate (DER), hex.
    public var caFingerprint: String

    public init(id: String, secret: String, caFingerprint: String) {
        self.id = id
        self.secret = secret
        self.caFingerprint = caFingerprint
    }

    public init?(parsing text: String) {
        guard
            let parsed = TokenText.parse(
                text.trimmingCharacters(in: .whitespacesAndNewlines), prefix: TokenText.joinPrefix),
            let fingerprint = parsed.fingerprint, !fingerprint.isEmpty
        else { return nil }
        self.init(id: parsed.id, secret: parsed.secret, caFingerprint: fingerprint)
    }

    public var text: String { "\(TokenText.joinPrefix).\(id).\(secret).\(caFingerprint)" }
}
