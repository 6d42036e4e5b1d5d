/// Snappy's block format, written with literals only: valid for every decoder, and the bodies are small.
enum Snappy {
    static func compress(_ input: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        appendVarint(UInt64(input.count), to: &output)
        var start = 0
        while start < input.count {
            let length = min(65536, input.count - start)
            let lengthMinusOne = length - 1
            if lengthMinusOne < 60 {
                output.append(UInt8(lengthMinusOne << 2))
            } else if lengthMinusOne < 256 {
                output += [60 << 2, UInt8(lengthMinusOne)]
            } else {
                output += [61 << 2, UInt8(lengthMinusOne & 0xFF), UInt8(lengthMinusOne >> 8)]
            }
            output += input[start..<start + length]
            start += length
        }
        return output
    }

    /// The uncompressed length as a little-endian base-128 varint, as the block format begins.
    private static func appendVarint(_ value: UInt64, to buffer: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            buffer.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        buffer.append(UInt8(value))
    }
}
