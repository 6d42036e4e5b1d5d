import Testing

@testable import WeftProxy

/// The access log's JSON lines are parsed by the lab tests and by operators' tools: their bytes stay as they were
/// when outcomes and roles were strings.
@Suite struct AccessLogTests {
    @Test func anEntryIsOneJSONLineWithSortedKeysAndTheOutcomeAndRoleAsStrings() {
        let (log, lines) = AccessLog.collecting()
        var entry = AccessLogEntry(
            time: "2026-12-02T19:00:00.000Z", direction: .inboundPlaintext, client: "198.18.0.11:40000",
            originalDestination: "240.0.0.7:80", sourceService: nil, destinationService: "backend", result: .refused,
            bytesSent: 4, bytesReceived: 7, durationMilliseconds: 1.5)
        entry.reason = "denied: a/b"
        entry.requestID = "req-1"
        log.record(entry)
        #expect(
            lines() == [
                #"{"bytes_received":7,"bytes_sent":4,"client":"198.18.0.11:40000","destination_service":"backend","#
                    + #""direction":"inbound_plaintext","duration_ms":1.5,"original_destination":"240.0.0.7:80","#
                    + #""reason":"denied: a/b","request_id":"req-1","result":"refused","time":"2026-12-02T19:00:00.000Z"}"#
            ])
    }

    @Test func resultsAndDirectionsKeepTheirNames() {
        #expect(ConnectionResult.allCases.map(\.rawValue) == ["forwarded", "closed", "refused", "failed"])
        #expect(ListenerRole.allCases.map(\.rawValue) == ["outbound", "inbound_plaintext", "inbound"])
    }

    @Test func timestampsAreISO8601WithMilliseconds() {
        let stamp = AccessLog.timestamp()
        #expect(stamp.count == 24 && stamp.hasSuffix("Z"), "\(stamp)")
    }
}
