import Crypto
import X509

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension Duration {
    /// "90 seconds", "5 minutes", "24 hours", "365 days": the largest unit that divides the duration evenly.
    var weftDescription: String {
        let (seconds, attoseconds) = components
        if attoseconds != 0 || seconds <= 0 {
            return "\(timeInterval) seconds"
        }
        func plural(_ n: Int64, _ unit: String) -> String { n == 1 ? "1 \(unit)" : "\(n) \(unit)s" }
        if seconds % 86_400 == 0 { return plural(seconds / 86_400, "day") }
        if seconds % 3_600 == 0 { return plural(seconds / 3_600, "hour") }
        if seconds % 60 == 0 { return plural(seconds / 60, "minute") }
        return plural(seconds, "second")
    }
}

extension Date {
    /// The date rounded down to a whole second: certificate times have one-second resolution, so computing with
    /// whole seconds makes the dates we report equal the ones in the certificate.
    var wholeSeconds: Date {
        Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down))
    }
}

enum Serial {
    /// A random positive serial number of exactly 16 octets.
    ///
    /// The top bit is cleared because DER INTEGERs are signed and serials must be positive; the next bit is set so
    /// that DER's minimal encoding never drops a leading zero octet. That leaves 126 random bits.
    static func random() -> Certificate.SerialNumber {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        bytes[0] = (bytes[0] & 0x7F) | 0x40
        return Certificate.SerialNumber(bytes: bytes)
    }
}

/// Lowercase hex without separators.
func hexString(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

extension Certificate {
    /// True when the certificate names itself as issuer and its own key verifies its signature.
    var isSelfSigned: Bool {
        issuer == subject && publicKey.isValidSignature(signature, for: self)
    }

    /// The subject for messages; an empty subject (as on SPIFFE leaves) is shown as its SPIFFE ID or serial.
    var displayName: String {
        let text = subject.description
        if !text.isEmpty { return text }
        if let uri = uriSubjectAlternativeNames?.first { return uri }
        return "serial \(hexString(serialNumber.bytes))"
    }

    /// The URI SANs, or nil when the SAN extension is absent or malformed.
    var uriSubjectAlternativeNames: [String]? {
        guard let names = try? extensions.subjectAlternativeNames else { return nil }
        return names.compactMap {
            if case .uniformResourceIdentifier(let uri) = $0 { return uri }
            return nil
        }
    }
}
