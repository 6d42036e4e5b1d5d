import SwiftProtobuf
import Testing

@testable import WeftNode

@Suite struct RemoteWriteTests {
    @Test func expositionLinesBecomeSortedLabelledSamples() {
        let text = """
            # HELP weft_tcp_connections_opened_total TCP connections
            # TYPE weft_tcp_connections_opened_total counter
            weft_tcp_connections_opened_total{reporter="source",source_service="frontend",destination_service="backend"} 3
            weft_up 1
            weft_odd{path="a\\"b\\\\c"} 2.5
            not a sample line
            """
        let samples = RemoteWrite.samples(fromExposition: text, extra: [("instance", "a")])
        #expect(samples.count == 3)
        #expect(samples[0].value == 3)
        #expect(
            samples[0].labels.map(\.0) == ["__name__", "destination_service", "instance", "reporter", "source_service"])
        #expect(samples[0].labels.first { $0.0 == "__name__" }?.1 == "weft_tcp_connections_opened_total")
        #expect(samples[1].labels.map(\.1) == ["weft_up", "a"])
        #expect(samples[2].labels.first { $0.0 == "path" }?.1 == #"a"b\c"#)
    }

    @Test func snappyLiteralsCarryTheLengthAndTheBytes() {
        #expect(Snappy.compress([]) == [0])
        #expect(Snappy.compress([1, 2, 3]) == [3, 2 << 2, 1, 2, 3])
        let hundred = [UInt8](repeating: 7, count: 100)
        #expect(Snappy.compress(hundred) == [100, 60 << 2, 99] + hundred)
        let big = [UInt8](repeating: 9, count: 70000)
        let compressed = Snappy.compress(big)
        // varint(70000) = 0xF0 0xA2 0x04, then a 65536-byte literal and a 4464-byte one.
        #expect(Array(compressed.prefix(6)) == [0xF0, 0xA2, 0x04, 61 << 2, 0xFF, 0xFF])
        #expect(compressed.count == 3 + 3 + 65536 + 3 + 4464)
    }

    @Test func writeRequestIsTheRemoteWriteProtobuf() throws {
        let sample = MetricSample(labels: [("__name__", "up")], value: 1)
        let body = RemoteWrite.body([sample], timestampMilliseconds: 1)
        // Uncompressed: timeseries(1) { labels(1) { name(1) "__name__" value(2) "up" } samples(2) { value(1) 1.0 timestamp(2) 1 } }
        let label: [UInt8] = [0x0A, 8] + Array("__name__".utf8) + [0x12, 2] + Array("up".utf8)
        let point: [UInt8] = [0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x10, 1]
        let series: [UInt8] = [0x0A, UInt8(label.count)] + label + [0x12, UInt8(point.count)] + point
        let request: [UInt8] = [0x0A, UInt8(series.count)] + series
        #expect(body == Snappy.compress(request))
        let decoded = try Prometheus_WriteRequest(serializedBytes: request)
        #expect(decoded.timeseries.count == 1)
        #expect(decoded.timeseries[0].labels.map { [$0.name, $0.value] } == [["__name__", "up"]])
        #expect(decoded.timeseries[0].samples.map { [$0.value, Double($0.timestamp)] } == [[1, 1]])
    }

    @Test func bodyDecodesAsPrometheusWriteRequest() throws {
        let samples = [
            MetricSample(labels: [("__name__", "weft_up"), ("instance", "a")], value: 1),
            MetricSample(labels: [("__name__", "weft_zero"), ("path", "/a\"b")], value: 0),
            MetricSample(labels: [("__name__", "weft_ratio")], value: -2.5),
        ]
        let body = RemoteWrite.body(samples, timestampMilliseconds: 1_700_000_000_123)
        let request = try Prometheus_WriteRequest(serializedBytes: Self.uncompressLiterals(body))
        #expect(
            request.timeseries.map { $0.labels.map { "\($0.name)=\($0.value)" } }
                == samples.map { $0.labels.map { "\($0)=\($1)" } })
        #expect(request.timeseries.map { $0.samples.map(\.value) } == [[1], [0], [-2.5]])
        #expect(request.timeseries.allSatisfy { $0.samples.map(\.timestamp) == [1_700_000_000_123] })
        #expect(request.metadata.isEmpty)
    }

    /// Reads back what `Snappy.compress` writes: the length, then literal elements only.
    static func uncompressLiterals(_ input: [UInt8]) -> [UInt8] {
        var index = 0
        var length = 0
        var shift = 0
        repeat {
            length |= Int(input[index] & 0x7F) << shift
            shift += 7
            index += 1
        } while input[index - 1] & 0x80 != 0
        var output: [UInt8] = []
        while index < input.count {
            let tag = Int(input[index] >> 2)
            index += 1
            var literal = tag + 1
            if tag == 60 {
                literal = Int(input[index]) + 1
                index += 1
            } else if tag == 61 {
                literal = (Int(input[index]) | Int(input[index + 1]) << 8) + 1
                index += 2
            }
            output += input[index..<index + literal]
            index += literal
        }
        #expect(output.count == length)
        return output
    }
}
