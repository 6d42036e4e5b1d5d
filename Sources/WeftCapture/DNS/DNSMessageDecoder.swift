import WeftCore

/// Reads DNS wire format from a byte array with bounds checks everywhere. Work is bounded by the input: every
/// record consumes at least one byte, every name at most 255 octets and a bounded number of pointer hops.
struct DNSMessageDecoder {
    private let bytes: [UInt8]
    private(set) var offset = 0

    static let maxMessageSize = 65_535
    static let maxPointerHops = 127

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func decodeMessage() throws(DNSMessageError) -> DNSMessage {
        guard bytes.count <= Self.maxMessageSize else { throw .messageTooLarge(size: bytes.count) }
        let (header, counts) = try decodeHeader()
        var message = DNSMessage(header: header)
        message.questions = try decodeQuestions(count: counts.questions)
        message.answers = try decodeRecords(count: counts.answers)
        message.authorities = try decodeRecords(count: counts.authorities)
        message.additionals = try decodeRecords(count: counts.additionals)
        guard offset == bytes.count else { throw .trailingData(offset: offset) }
        return message
    }

    struct SectionCounts {
        var questions, answers, authorities, additionals: Int
    }

    mutating func decodeHeader() throws(DNSMessageError) -> (DNSHeader, SectionCounts) {
        let id = try readUInt16()
        let flags = try readUInt16()
        let counts = SectionCounts(
            questions: Int(try readUInt16()), answers: Int(try readUInt16()),
            authorities: Int(try readUInt16()), additionals: Int(try readUInt16()))
        return (DNSHeader(id: id, flags: flags), counts)
    }

    mutating func decodeQuestions(count: Int) throws(DNSMessageError) -> [DNSQuestion] {
        var questions: [DNSQuestion] = []
        questions.reserveCapacity(min(count, remaining / 5))
        for _ in 0..<count {
            let name = try decodeName()
            let type = DNSRecordType(rawValue: try readUInt16())
            let recordClass = DNSClass(rawValue: try readUInt16())
            questions.append(DNSQuestion(name: name, type: type, recordClass: recordClass))
        }
        return questions
    }

    private mutating func decodeRecords(count: Int) throws(DNSMessageError) -> [DNSResourceRecord] {
        var records: [DNSResourceRecord] = []
        records.reserveCapacity(min(count, remaining / 11))
        for _ in 0..<count {
            records.append(try decodeRecord())
        }
        return records
    }

    private var remaining: Int { bytes.count - offset }

    private mutating func decodeRecord() throws(DNSMessageError) -> DNSResourceRecord {
        let name = try decodeName()
        let type = DNSRecordType(rawValue: try readUInt16())
        let recordClass = DNSClass(rawValue: try readUInt16())
        let ttl = try readUInt32()
        let length = Int(try readUInt16())
        let start = offset
        guard length <= remaining else { throw .truncated(offset: bytes.count) }
        let end = start + length
        let data: DNSRecordData
        switch type {
        case .a:
            guard length == 4, let address = IPAddress(bytes: bytes[start..<end]) else {
                throw .invalidRecordData(offset: start, type: type)
            }
            data = .a(address)
            offset = end
        case .aaaa:
            guard length == 16, let address = IPAddress(bytes: bytes[start..<end]) else {
                throw .invalidRecordData(offset: start, type: type)
            }
            data = .aaaa(address)
            offset = end
        case .cname:
            let target = try decodeName(within: end)
            guard offset == end else { throw .invalidRecordData(offset: start, type: type) }
            data = .cname(target)
        default:
            data = .raw(try decodeRawData(type: type, end: end))
        }
        return DNSResourceRecord(name: name, type: type, recordClass: recordClass, ttl: ttl, data: data)
    }

    /// Record data as bytes; for RFC 1035 types that may carry compressed names, the names are written out in full.
    private mutating func decodeRawData(type: DNSRecordType, end: Int) throws(DNSMessageError) -> [UInt8] {
        let start = offset
        var out: [UInt8] = []
        func appendName(_ name: DNSName) {
            for label in name.labels {
                out.append(UInt8(label.count))
                out += label
            }
            out.append(0)
        }
        switch type.rawValue {
        case 2, 3, 4, 5, 7, 8, 9, 12:  // NS MD MF CNAME MB MG MR PTR
            appendName(try decodeName(within: end))
        case 14:  // MINFO
            appendName(try decodeName(within: end))
            appendName(try decodeName(within: end))
        case 15:  // MX
            out += try readBytes(2, within: end)
            appendName(try decodeName(within: end))
        case 6:  // SOA
            appendName(try decodeName(within: end))
            appendName(try decodeName(within: end))
            out += try readBytes(20, within: end)
        default:
            out += bytes[start..<end]
            offset = end
        }
        guard offset == end else { throw .invalidRecordData(offset: start, type: type) }
        return out
    }

    /// Decodes a possibly compressed name starting at the current offset; the uncompressed part must end by `limit`.
    /// A pointer must point before the start of the label run that contains it, so targets strictly decrease and
    /// loops, self and forward pointers are rejected.
    mutating func decodeName(within limit: Int? = nil) throws(DNSMessageError) -> DNSName {
        let end = min(limit ?? bytes.count, bytes.count)
        let nameStart = offset
        var labels: [[UInt8]] = []
        var wireLength = 1
        var position = offset
        var runStart = offset
        var resumeOffset: Int?
        var hops = 0
        while true {
            let boundary = resumeOffset == nil ? end : bytes.count
            guard position < boundary else { throw .truncated(offset: position) }
            let length = bytes[position]
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    if resumeOffset == nil { resumeOffset = position + 1 }
                    offset = resumeOffset!
                    return DNSName(uncheckedLabels: labels)
                }
                wireLength += 1 + Int(length)
                guard wireLength <= DNSName.maxWireLength else { throw .nameTooLong(offset: nameStart) }
                let labelStart = position + 1
                let labelEnd = labelStart + Int(length)
                guard labelEnd <= boundary else { throw .truncated(offset: boundary) }
                labels.append(Array(bytes[labelStart..<labelEnd]))
                position = labelEnd
            case 0xC0:
                guard position + 1 < boundary else { throw .truncated(offset: position + 1) }
                let target = Int(length & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < runStart else { throw .invalidCompressionPointer(offset: position, target: target) }
                hops += 1
                guard hops <= Self.maxPointerHops else { throw .tooManyCompressionPointers(offset: nameStart) }
                if resumeOffset == nil { resumeOffset = position + 2 }
                position = target
                runStart = target
            default:
                throw .invalidLabelLength(offset: position, length: length)
            }
        }
    }

    private mutating func readBytes(_ count: Int, within limit: Int) throws(DNSMessageError) -> ArraySlice<UInt8> {
        guard offset + count <= min(limit, bytes.count) else { throw .truncated(offset: min(limit, bytes.count)) }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func readUInt16() throws(DNSMessageError) -> UInt16 {
        guard remaining >= 2 else { throw .truncated(offset: bytes.count) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    private mutating func readUInt32() throws(DNSMessageError) -> UInt32 {
        let high = try readUInt16()
        let low = try readUInt16()
        return UInt32(high) << 16 | UInt32(low)
    }
}

extension DNSMessage {
    /// Decodes only the header and the question section; the rest of the message is not examined. Used to match
    /// upstream answers to the query they answer.
    static func decodeQuestions(_ bytes: [UInt8]) throws(DNSMessageError) -> (DNSHeader, [DNSQuestion]) {
        var decoder = DNSMessageDecoder(bytes)
        let (header, counts) = try decoder.decodeHeader()
        return (header, try decoder.decodeQuestions(count: counts.questions))
    }
}
