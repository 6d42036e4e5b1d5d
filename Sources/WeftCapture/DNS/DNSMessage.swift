import WeftCore

/// A DNS record type (RFC 1035 §3.2.2), open to any 16-bit value.
public struct DNSRecordType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = DNSRecordType(rawValue: 1)
    public static let ns = DNSRecordType(rawValue: 2)
    public static let cname = DNSRecordType(rawValue: 5)
    public static let soa = DNSRecordType(rawValue: 6)
    public static let ptr = DNSRecordType(rawValue: 12)
    public static let mx = DNSRecordType(rawValue: 15)
    public static let txt = DNSRecordType(rawValue: 16)
    public static let aaaa = DNSRecordType(rawValue: 28)
    public static let srv = DNSRecordType(rawValue: 33)
    public static let opt = DNSRecordType(rawValue: 41)
    public static let any = DNSRecordType(rawValue: 255)

    public var description: String {
        switch self {
        case .a: return "A"
        case .ns: return "NS"
        case .cname: return "CNAME"
        case .soa: return "SOA"
        case .ptr: return "PTR"
        case .mx: return "MX"
        case .txt: return "TXT"
        case .aaaa: return "AAAA"
        case .srv: return "SRV"
        case .opt: return "OPT"
        case .any: return "ANY"
        default: return "TYPE\(rawValue)"
        }
    }
}

/// A DNS class (RFC 1035 §3.2.4).
public struct DNSClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let internet = DNSClass(rawValue: 1)
    public static let any = DNSClass(rawValue: 255)

    public var description: String {
        switch self {
        case .internet: return "IN"
        case .any: return "ANY"
        default: return "CLASS\(rawValue)"
        }
    }
}

/// The 4-bit OPCODE of a DNS header.
public struct DNSOpcode: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    /// Keeps the low 4 bits.
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }

    public static let query = DNSOpcode(rawValue: 0)
    public static let status = DNSOpcode(rawValue: 2)
    public static let notify = DNSOpcode(rawValue: 4)
    public static let update = DNSOpcode(rawValue: 5)
}

/// A DNS response code; the header carries its low 4 bits, EDNS carries the upper 8 (RFC 6891 §6.1.3).
public struct DNSResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue & 0x0FFF }

    public static let noError = DNSResponseCode(rawValue: 0)
    public static let formatError = DNSResponseCode(rawValue: 1)
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    public static let nameError = DNSResponseCode(rawValue: 3)
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    public static let refused = DNSResponseCode(rawValue: 5)
    public static let badVersion = DNSResponseCode(rawValue: 16)

    public var description: String {
        switch self {
        case .noError: return "NOERROR"
        case .formatError: return "FORMERR"
        case .serverFailure: return "SERVFAIL"
        case .nameError: return "NXDOMAIN"
        case .notImplemented: return "NOTIMP"
        case .refused: return "REFUSED"
        case .badVersion: return "BADVERS"
        default: return "RCODE\(rawValue)"
        }
    }
}

/// The fixed 12-byte header of a DNS message (RFC 1035 §4.1.1) without the section counts, which the encoder derives.
public struct DNSHeader: Hashable, Sendable {
    public var id: UInt16
    public var isResponse: Bool
    public var opcode: DNSOpcode
    public var isAuthoritative: Bool
    public var isTruncated: Bool
    public var recursionDesired: Bool
    public var recursionAvailable: Bool
    /// The reserved Z bit, kept so that a decoded header encodes to the same bytes.
    public var reservedZ: Bool
    public var authenticData: Bool
    public var checkingDisabled: Bool
    /// The low 4 bits of the response code.
    public var responseCode: UInt8

    public init(
        id: UInt16 = 0, isResponse: Bool = false, opcode: DNSOpcode = .query, isAuthoritative: Bool = false,
        isTruncated: Bool = false, recursionDesired: Bool = false, recursionAvailable: Bool = false,
        reservedZ: Bool = false, authenticData: Bool = false, checkingDisabled: Bool = false, responseCode: UInt8 = 0
    ) {
        self.id = id
        self.isResponse = isResponse
        self.opcode = opcode
        self.isAuthoritative = isAuthoritative
        self.isTruncated = isTruncated
        self.recursionDesired = recursionDesired
        self.recursionAvailable = recursionAvailable
        self.reservedZ = reservedZ
        self.authenticData = authenticData
        self.checkingDisabled = checkingDisabled
        self.responseCode = responseCode & 0x0F
    }

    /// Reads the header from the first 12 bytes; nil when there are fewer.
    public init?(prefixOf bytes: some Collection<UInt8>) {
        guard bytes.count >= DNSHeader.size else { return nil }
        let b = Array(bytes.prefix(4))
        self.init(id: UInt16(b[0]) << 8 | UInt16(b[1]), flags: UInt16(b[2]) << 8 | UInt16(b[3]))
    }

    init(id: UInt16, flags: UInt16) {
        self.init(
            id: id,
            isResponse: flags & 0x8000 != 0,
            opcode: DNSOpcode(rawValue: UInt8(truncatingIfNeeded: flags >> 11)),
            isAuthoritative: flags & 0x0400 != 0,
            isTruncated: flags & 0x0200 != 0,
            recursionDesired: flags & 0x0100 != 0,
            recursionAvailable: flags & 0x0080 != 0,
            reservedZ: flags & 0x0040 != 0,
            authenticData: flags & 0x0020 != 0,
            checkingDisabled: flags & 0x0010 != 0,
            responseCode: UInt8(truncatingIfNeeded: flags & 0x000F)
        )
    }

    var flags: UInt16 {
        var f = UInt16(opcode.rawValue) << 11 | UInt16(responseCode & 0x0F)
        if isResponse { f |= 0x8000 }
        if isAuthoritative { f |= 0x0400 }
        if isTruncated { f |= 0x0200 }
        if recursionDesired { f |= 0x0100 }
        if recursionAvailable { f |= 0x0080 }
        if reservedZ { f |= 0x0040 }
        if authenticData { f |= 0x0020 }
        if checkingDisabled { f |= 0x0010 }
        return f
    }

    public static let size = 12
}

/// A question: the name, type and class asked about (RFC 1035 §4.1.2).
public struct DNSQuestion: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSRecordType
    public var recordClass: DNSClass

    public init(name: DNSName, type: DNSRecordType, recordClass: DNSClass = .internet) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
    }

    /// Same type and class, and the same name ignoring ASCII case.
    public func matches(_ other: DNSQuestion) -> Bool {
        type == other.type && recordClass == other.recordClass && name.equalsIgnoringCase(other.name)
    }
}

/// The data of a resource record: the types the resolver uses are decoded, every other type is kept as raw bytes.
public enum DNSRecordData: Hashable, Sendable {
    /// An IPv4 address (type A).
    case a(IPAddress)
    /// An IPv6 address (type AAAA).
    case aaaa(IPAddress)
    case cname(DNSName)
    /// The wire bytes of any other type. Names inside well-known RFC 1035 types (NS, SOA, PTR, MX, …) are stored
    /// decompressed, so the bytes stay valid in any message.
    case raw([UInt8])
}

/// A resource record (RFC 1035 §4.1.3). For the EDNS OPT pseudo-record (RFC 6891) `recordClass` carries the
/// requestor's UDP payload size and `ttl` the extended RCODE, version and flags; see `DNSMessage.edns`.
public struct DNSResourceRecord: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSRecordType
    public var recordClass: DNSClass
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: DNSName, type: DNSRecordType, recordClass: DNSClass = .internet, ttl: UInt32, data: DNSRecordData)
    {
        self.name = name
        self.type = type
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }

    public static func a(_ name: DNSName, _ address: IPAddress, ttl: UInt32) -> DNSResourceRecord {
        DNSResourceRecord(name: name, type: .a, ttl: ttl, data: .a(address))
    }

    public static func aaaa(_ name: DNSName, _ address: IPAddress, ttl: UInt32) -> DNSResourceRecord {
        DNSResourceRecord(name: name, type: .aaaa, ttl: ttl, data: .aaaa(address))
    }
}

/// The EDNS(0) parameters carried by an OPT pseudo-record (RFC 6891 §6.1).
public struct DNSEDNS: Hashable, Sendable {
    public var udpPayloadSize: UInt16
    /// The upper 8 bits of the 12-bit response code.
    public var extendedResponseCode: UInt8
    public var version: UInt8
    public var dnssecOK: Bool
    /// The options, as raw wire bytes (code, length, data …).
    public var options: [UInt8]

    public init(
        udpPayloadSize: UInt16, extendedResponseCode: UInt8 = 0, version: UInt8 = 0, dnssecOK: Bool = false,
        options: [UInt8] = []
    ) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedResponseCode = extendedResponseCode
        self.version = version
        self.dnssecOK = dnssecOK
        self.options = options
    }

    init?(_ record: DNSResourceRecord) {
        guard record.type == .opt, case .raw(let options) = record.data else { return nil }
        self.init(
            udpPayloadSize: record.recordClass.rawValue,
            extendedResponseCode: UInt8(truncatingIfNeeded: record.ttl >> 24),
            version: UInt8(truncatingIfNeeded: record.ttl >> 16),
            dnssecOK: record.ttl & 0x8000 != 0,
            options: options
        )
    }

    /// The OPT pseudo-record that carries these parameters.
    public var record: DNSResourceRecord {
        let ttl = UInt32(extendedResponseCode) << 24 | UInt32(version) << 16 | (dnssecOK ? 0x8000 : 0)
        return DNSResourceRecord(
            name: .root, type: .opt, recordClass: DNSClass(rawValue: udpPayloadSize), ttl: ttl, data: .raw(options))
    }
}

/// A whole DNS message: header and the four sections.
public struct DNSMessage: Hashable, Sendable {
    public var header: DNSHeader
    public var questions: [DNSQuestion]
    public var answers: [DNSResourceRecord]
    public var authorities: [DNSResourceRecord]
    /// The additional section, including any OPT pseudo-record.
    public var additionals: [DNSResourceRecord]

    public init(
        header: DNSHeader, questions: [DNSQuestion] = [], answers: [DNSResourceRecord] = [],
        authorities: [DNSResourceRecord] = [], additionals: [DNSResourceRecord] = []
    ) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authorities = authorities
        self.additionals = additionals
    }

    /// The EDNS parameters of the first OPT record in the additional section, if any.
    public var edns: DNSEDNS? {
        additionals.lazy.compactMap(DNSEDNS.init).first
    }

    /// The full 12-bit response code (header bits plus the EDNS extension).
    public var responseCode: DNSResponseCode {
        DNSResponseCode(rawValue: UInt16(edns?.extendedResponseCode ?? 0) << 4 | UInt16(header.responseCode))
    }

    /// Decodes a message from wire bytes; throws a `DNSMessageError` for anything malformed. Never reads past `bytes`.
    public init(decoding bytes: [UInt8]) throws(DNSMessageError) {
        var decoder = DNSMessageDecoder(bytes)
        self = try decoder.decodeMessage()
    }

    /// Encodes to wire bytes with name compression.
    public func encoded() throws(DNSMessageError) -> [UInt8] {
        var encoder = DNSMessageEncoder()
        try encoder.encode(self)
        return encoder.bytes
    }
}

/// Why a DNS message could not be decoded or encoded.
public enum DNSMessageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The data ended at `offset` before the structure did.
    case truncated(offset: Int)
    /// A label length byte above 63 that is not a compression pointer (or one of the obsolete 0x40/0x80 label types).
    case invalidLabelLength(offset: Int, length: UInt8)
    /// A name longer than 255 octets in wire form.
    case nameTooLong(offset: Int)
    /// A compression pointer that does not point strictly before the labels that contain it (loops, self and forward pointers).
    case invalidCompressionPointer(offset: Int, target: Int)
    /// More than the allowed number of compression pointers in one name.
    case tooManyCompressionPointers(offset: Int)
    /// Record data whose length does not fit its type (e.g. an A record that is not 4 bytes).
    case invalidRecordData(offset: Int, type: DNSRecordType)
    /// Bytes left over after the last counted record.
    case trailingData(offset: Int)
    /// A message larger than 65,535 bytes.
    case messageTooLarge(size: Int)
    /// A label or name given as text that is not a valid DNS name.
    case invalidName(String)

    public var description: String {
        switch self {
        case .truncated(let offset):
            return "DNS message truncated at byte \(offset)"
        case .invalidLabelLength(let offset, let length):
            return
                "invalid DNS label length byte 0x\(String(length, radix: 16)) at byte \(offset) (labels are at most 63 octets)"
        case .nameTooLong(let offset):
            return "DNS name at byte \(offset) is longer than 255 octets"
        case .invalidCompressionPointer(let offset, let target):
            return "DNS compression pointer at byte \(offset) to byte \(target) does not point backwards"
        case .tooManyCompressionPointers(let offset):
            return "DNS name at byte \(offset) follows too many compression pointers"
        case .invalidRecordData(let offset, let type):
            return "invalid \(type) record data at byte \(offset)"
        case .trailingData(let offset):
            return "unexpected data after the last DNS record, from byte \(offset)"
        case .messageTooLarge(let size):
            return "DNS message of \(size) bytes is larger than the 65535-byte maximum"
        case .invalidName(let text):
            return "'\(text)' is not a valid DNS name: labels of 1–63 octets separated by dots, 255 octets at most"
        }
    }
}
