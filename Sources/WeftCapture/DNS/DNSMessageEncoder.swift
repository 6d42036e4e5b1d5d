/// Writes DNS wire format, compressing owner names, question names and CNAME targets against earlier names.
struct DNSMessageEncoder {
    private(set) var bytes: [UInt8] = []
    /// Lower-cased name suffixes already written, by offset (only offsets that fit a 14-bit pointer).
    private var suffixOffsets: [[[UInt8]]: Int] = [:]

    mutating func encode(_ message: DNSMessage) throws(DNSMessageError) {
        bytes.reserveCapacity(512)
        writeUInt16(message.header.id)
        writeUInt16(message.header.flags)
        for count in [
            message.questions.count, message.answers.count, message.authorities.count, message.additionals.count,
        ] {
            guard count <= Int(UInt16.max) else { throw .messageTooLarge(size: count) }
            writeUInt16(UInt16(count))
        }
        for question in message.questions {
            writeName(question.name)
            writeUInt16(question.type.rawValue)
            writeUInt16(question.recordClass.rawValue)
        }
        for record in message.answers + message.authorities + message.additionals {
            try write(record)
        }
        guard bytes.count <= DNSMessageDecoder.maxMessageSize else { throw .messageTooLarge(size: bytes.count) }
    }

    private mutating func write(_ record: DNSResourceRecord) throws(DNSMessageError) {
        writeName(record.name)
        writeUInt16(record.type.rawValue)
        writeUInt16(record.recordClass.rawValue)
        writeUInt16(UInt16(truncatingIfNeeded: record.ttl >> 16))
        writeUInt16(UInt16(truncatingIfNeeded: record.ttl))
        let lengthOffset = bytes.count
        writeUInt16(0)
        switch record.data {
        case .a(let address), .aaaa(let address):
            bytes += address.bytes
        case .cname(let target):
            writeName(target)
        case .raw(let data):
            bytes += data
        }
        let length = bytes.count - lengthOffset - 2
        guard length <= Int(UInt16.max) else { throw .messageTooLarge(size: bytes.count) }
        bytes[lengthOffset] = UInt8(length >> 8)
        bytes[lengthOffset + 1] = UInt8(length & 0xFF)
    }

    private mutating func writeName(_ name: DNSName) {
        let labels = name.labels
        for index in labels.indices {
            let suffix = labels[index...].map { $0.map(DNSName.lowercase) }
            if let target = suffixOffsets[suffix] {
                writeUInt16(0xC000 | UInt16(target))
                return
            }
            if bytes.count <= 0x3FFF {
                suffixOffsets[suffix] = bytes.count
            }
            bytes.append(UInt8(labels[index].count))
            bytes += labels[index]
        }
        bytes.append(0)
    }

    private mutating func writeUInt16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }
}
