#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One sample of a Prometheus series: its labels (with `__name__`) and value.
struct MetricSample: Sendable, Equatable {
    var labels: [(String, String)]
    var value: Double

    static func == (lhs: MetricSample, rhs: MetricSample) -> Bool {
        lhs.value == rhs.value && lhs.labels.elementsEqual(rhs.labels) { $0 == $1 }
    }
}

/// The Prometheus remote-write wire format (protocol 1.0): a snappy-compressed protobuf `WriteRequest`.
enum RemoteWrite {
    /// Samples from the Prometheus text exposition format (what our registry emits): `name{a="b",...} value` lines;
    /// comments and malformed lines are skipped. `extra` labels are added to every series.
    static func samples(fromExposition text: String, extra: [(String, String)]) -> [MetricSample] {
        var samples: [MetricSample] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            let series = line[..<space]
            var labels: [(String, String)] = []
            let name: Substring
            if let open = series.firstIndex(of: "{"), series.last == "}" {
                name = series[..<open]
                guard
                    let parsed = parseLabels(series[series.index(after: open)..<series.index(before: series.endIndex)])
                else { continue }
                labels = parsed
            } else {
                name = series
            }
            labels.append(("__name__", String(name)))
            labels += extra
            labels.sort { $0.0 < $1.0 }
            samples.append(MetricSample(labels: labels, value: value))
        }
        return samples
    }

    /// `a="x",b="y\"z"` → pairs; nil when malformed.
    private static func parseLabels(_ text: Substring) -> [(String, String)]? {
        var pairs: [(String, String)] = []
        var index = text.startIndex
        while index < text.endIndex {
            guard let equals = text[index...].firstIndex(of: "="), text.index(after: equals) < text.endIndex,
                text[text.index(after: equals)] == "\""
            else { return nil }
            let name = String(text[index..<equals])
            var value = ""
            var cursor = text.index(equals, offsetBy: 2)
            var closed = false
            while cursor < text.endIndex {
                let character = text[cursor]
                if character == "\\", text.index(after: cursor) < text.endIndex {
                    let escaped = text[text.index(after: cursor)]
                    value.append(escaped == "n" ? "\n" : escaped)
                    cursor = text.index(cursor, offsetBy: 2)
                } else if character == "\"" {
                    closed = true
                    cursor = text.index(after: cursor)
                    break
                } else {
                    value.append(character)
                    cursor = text.index(after: cursor)
                }
            }
            guard closed else { return nil }
            pairs.append((name, value))
            if cursor < text.endIndex, text[cursor] == "," { cursor = text.index(after: cursor) }
            index = cursor
        }
        return pairs
    }

    /// The request body: `WriteRequest { repeated TimeSeries timeseries = 1 }`, each series one sample at
    /// `timestampMilliseconds`, snappy-compressed.
    static func body(_ samples: [MetricSample], timestampMilliseconds: Int64) -> [UInt8] {
        var request: [UInt8] = []
        for sample in samples {
            var series: [UInt8] = []
            for (name, value) in sample.labels {
                var label: [UInt8] = []
                appendBytes(field: 1, Array(name.utf8), to: &label)
                appendBytes(field: 2, Array(value.utf8), to: &label)
                appendBytes(field: 1, label, to: &series)
            }
            var point: [UInt8] = [0x09]  // field 1, fixed64: the value
            withUnsafeBytes(of: sample.value.bitPattern.littleEndian) { point += $0 }
            point.append(0x10)  // field 2, varint: the timestamp
            appendVarint(UInt64(bitPattern: timestampMilliseconds), to: &point)
            appendBytes(field: 2, point, to: &series)
            appendBytes(field: 1, series, to: &request)
        }
        return Snappy.compress(request)
    }

    private static func appendBytes(field: UInt64, _ bytes: [UInt8], to buffer: inout [UInt8]) {
        appendVarint(field << 3 | 2, to: &buffer)
        appendVarint(UInt64(bytes.count), to: &buffer)
        buffer += bytes
    }

    static func appendVarint(_ value: UInt64, to buffer: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            buffer.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        buffer.append(UInt8(value))
    }
}

/// Snappy's block format, written with literals only: valid for every decoder, and the bodies are small.
enum Snappy {
    static func compress(_ input: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        RemoteWrite.appendVarint(UInt64(input.count), to: &output)
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
}
