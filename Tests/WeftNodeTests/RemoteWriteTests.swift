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

    @Test func writeRequestIsTheRemoteWriteProtobuf() {
        let sample = MetricSample(labels: [("__name__", "up")], value: 1)
        let body = RemoteWrite.body([sample], timestampMilliseconds: 1)
        // Uncompressed: timeseries(1) { labels(1) { name(1) "__name__" value(2) "up" } samples(2) { value(1) 1.0 timestamp(2) 1 } }
        let label: [UInt8] = [0x0A, 8] + Array("__name__".utf8) + [0x12, 2] + Array("up".utf8)
        let point: [UInt8] = [0x09, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 0x10, 1]
        let series: [UInt8] = [0x0A, UInt8(label.count)] + label + [0x12, UInt8(point.count)] + point
        let request: [UInt8] = [0x0A, UInt8(series.count)] + series
        #expect(body == Snappy.compress(request))
    }
}
