import Testing
import WeftCore

@testable import WeftCapture

@Suite("DNS message codec")
struct DNSMessageTests {
    static func name(_ text: String) -> DNSName { try! DNSName(text) }

    static let sampleResponse = DNSMessage(
        header: DNSHeader(
            id: 0xBEEF, isResponse: true, isAuthoritative: true, recursionDesired: true, recursionAvailable: true),
        questions: [DNSQuestion(name: name("www.example.test"), type: .a)],
        answers: [
            DNSResourceRecord(
                name: name("www.example.test"), type: .cname, ttl: 300, data: .cname(name("web.example.test"))),
            .a(name("web.example.test"), .v4(0xC612_0001), ttl: 60),
            .aaaa(name("web.example.test"), IPAddress("2001:2::1")!, ttl: 60),
        ],
        authorities: [
            DNSResourceRecord(name: name("example.test"), type: .txt, ttl: 5, data: .raw([3, 0x61, 0x62, 0x63]))
        ],
        additionals: [
            DNSEDNS(udpPayloadSize: 1232, dnssecOK: true, options: [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]).record
        ]
    )

    @Test func roundTripKeepsEverything() throws {
        let bytes = try Self.sampleResponse.encoded()
        let decoded = try DNSMessage(decoding: bytes)
        #expect(decoded == Self.sampleResponse)
        #expect(try decoded.encoded() == bytes)
    }

    @Test func ednsIsReadFromTheOPTRecord() throws {
        let decoded = try DNSMessage(decoding: try Self.sampleResponse.encoded())
        let edns = try #require(decoded.edns)
        #expect(edns.udpPayloadSize == 1232)
        #expect(edns.dnssecOK)
        #expect(edns.version == 0)
        #expect(edns.options == [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8])
    }

    @Test func extendedResponseCodeCombinesHeaderAndEDNS() throws {
        var message = DNSMessage(header: DNSHeader(id: 1, isResponse: true))
        message.additionals = [DNSEDNS(udpPayloadSize: 512, extendedResponseCode: 1).record]
        let decoded = try DNSMessage(decoding: try message.encoded())
        #expect(decoded.responseCode == .badVersion)
    }

    @Test func namesAreCompressed() throws {
        let owner = Self.name("backend.default.weft")
        let message = DNSMessage(
            header: DNSHeader(id: 7, isResponse: true),
            questions: [DNSQuestion(name: owner, type: .a)],
            answers: (1...3).map { .a(owner, .v4(0xF000_0000 + $0), ttl: 5) })
        let bytes = try message.encoded()
        // header 12 + question (22 + 4) + 3 answers of (2-byte pointer + 10 + 4)
        #expect(bytes.count == 12 + 26 + 3 * 16)
        #expect(bytes[38] == 0xC0 && bytes[39] == 12)
        #expect(try DNSMessage(decoding: bytes) == message)
    }

    @Test func compressionIgnoresCaseAndSharesSuffixes() throws {
        let message = DNSMessage(
            header: DNSHeader(id: 7),
            questions: [
                DNSQuestion(name: Self.name("a.example.test"), type: .a),
                DNSQuestion(name: Self.name("B.EXAMPLE.TEST"), type: .a),
            ])
        let bytes = try message.encoded()
        // second name: label "B" + pointer to "example.test" at offset 14
        #expect(bytes.count == 12 + (16 + 4) + (2 + 2 + 4))
        let decoded = try DNSMessage(decoding: bytes)
        #expect(decoded.questions[1].name.description == "B.example.test")
    }

    @Test func decodesADigStyleQueryWithCookie() throws {
        // dig example.test A +cookie: RD, AD, EDNS 1232 with a client cookie option
        let bytes: [UInt8] = [
            0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1,
            7, 0x65, 0x78, 0x61, 0x6D, 0x70, 0x6C, 0x65, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 1, 0, 1,
            0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,
        ]
        let message = try DNSMessage(decoding: bytes)
        #expect(message.header.id == 0x1234)
        #expect(message.header.recursionDesired)
        #expect(message.header.authenticData)
        #expect(message.questions == [DNSQuestion(name: Self.name("example.test"), type: .a)])
        #expect(message.edns?.udpPayloadSize == 1232)
        #expect(try message.encoded() == bytes)
    }

    @Test func compressedNamesInsideWellKnownRecordDataAreWrittenOut() throws {
        // An MX answer whose exchange name points into the question.
        var bytes: [UInt8] = [0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]
        bytes += [7] + Array("example".utf8) + [4] + Array("test".utf8) + [0, 0, 15, 0, 1]
        bytes += [0xC0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 7, 0, 10, 2] + Array("mx".utf8) + [0xC0, 12]
        let message = try DNSMessage(decoding: bytes)
        let expected: [UInt8] =
            [0, 10, 2] + Array("mx".utf8) + [7] + Array("example".utf8) + [4] + Array("test".utf8) + [0]
        #expect(message.answers[0].data == .raw(expected))
        #expect(try DNSMessage(decoding: try message.encoded()) == message)
    }

    @Test func headerFlagsRoundTrip() throws {
        let header = DNSHeader(
            id: 0xFFFF, isResponse: true, opcode: .update, isAuthoritative: true, isTruncated: true,
            recursionDesired: true,
            recursionAvailable: true, reservedZ: true, authenticData: true, checkingDisabled: true, responseCode: 0xF)
        let bytes = try DNSMessage(header: header).encoded()
        #expect(bytes[2] == 0xAF && bytes[3] == 0xFF)
        #expect(try DNSMessage(decoding: bytes).header == header)
        #expect(DNSHeader(prefixOf: bytes) == header)
        #expect(DNSHeader(prefixOf: bytes.prefix(11)) == nil)
    }

    // MARK: Names as text

    @Test func namesParseFromText() throws {
        #expect(try DNSName("backend.weft.").labels.count == 2)
        #expect(try DNSName(".") == .root)
        #expect(DNSName.root.description == ".")
        #expect(try DNSName("Backend.WEFT").lowercased() == DNSName("backend.weft"))
        #expect(try DNSName("a.b.weft").isSubdomain(of: DNSName("WEFT")))
        #expect(try !DNSName("weft.example").isSubdomain(of: DNSName("weft")))
        #expect(try DNSName("weft").isSubdomain(of: DNSName("weft")))
    }

    @Test(arguments: [
        "a..b", ".a", String(repeating: "x", count: 64) + ".weft",
        Array(repeating: String(repeating: "x", count: 63), count: 4).joined(separator: "."),
    ])
    func invalidNamesAreRejected(_ text: String) {
        #expect(throws: DNSMessageError.self) { try DNSName(text) }
    }

    @Test func longestNameIsAccepted() throws {
        // 3 × 63 + 61 octets of labels + 4 length bytes + root = 255
        let text =
            Array(repeating: String(repeating: "x", count: 63), count: 3).joined(separator: ".") + "."
            + String(repeating: "y", count: 61)
        #expect(try DNSName(text).wireLength == 255)
    }

    @Test func descriptionEscapesOddOctets() throws {
        let name = try DNSName(labels: [[0x61, 0x2E, 0x20, 0x5C]])
        #expect(name.description == "a\\.\\032\\\\")
    }

    // MARK: Malformed input

    static let header: [UInt8] = [0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
    static func question(_ nameBytes: [UInt8]) -> [UInt8] { header + nameBytes + [0, 1, 0, 1] }

    static func decodeError(_ bytes: [UInt8]) -> DNSMessageError? {
        do {
            _ = try DNSMessage(decoding: bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test func shorterThanAHeader() {
        #expect(Self.decodeError(Array(Self.header.prefix(11))) == .truncated(offset: 11))
        #expect(Self.decodeError([]) == .truncated(offset: 0))
    }

    @Test func countsLargerThanTheData() {
        var bytes = Self.question([1, 0x61, 0])
        bytes[5] = 200  // 200 questions, one present
        #expect(Self.decodeError(bytes) == .truncated(offset: bytes.count))
        var answers = Self.question([1, 0x61, 0])
        answers[6] = 0xFF
        answers[7] = 0xFF
        #expect(Self.decodeError(answers) == .truncated(offset: answers.count))
    }

    @Test func truncatedInsideANameAndARecord() {
        #expect(Self.decodeError(Self.header + [5, 0x61, 0x62]) == .truncated(offset: 15))
        #expect(Self.decodeError(Self.header + [1, 0x61]) == .truncated(offset: 14))
        var bytes = Self.question([0])
        bytes[7] = 1
        bytes += [0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 198, 18]  // A record, rdlength 4, 2 bytes present
        #expect(Self.decodeError(bytes) == .truncated(offset: bytes.count))
    }

    @Test func selfPointer() {
        #expect(Self.decodeError(Self.question([0xC0, 12])) == .invalidCompressionPointer(offset: 12, target: 12))
    }

    @Test func forwardPointer() {
        #expect(Self.decodeError(Self.question([0xC0, 14, 0])) == .invalidCompressionPointer(offset: 12, target: 14))
    }

    @Test func pointerLoopBetweenTwoNames() {
        // question 1 at 12: "a" then pointer to 12 + 5 + 4 = 21 (the second question's name, later) → forward
        // question 2 at 21: pointer back to 12, whose pointer then loops: rejected because 21 is not before 12.
        var bytes = Self.header
        bytes[5] = 2
        bytes += [1, 0x61, 0xC0, 21, 0, 1, 0, 1]
        bytes += [0xC0, 12, 0, 1, 0, 1]
        #expect(Self.decodeError(bytes) == .invalidCompressionPointer(offset: 14, target: 21))
    }

    @Test func pointerIntoALabelThatSpansTheJumpIsRejected() {
        // At 12: label of 4 octets whose bytes hide a pointer; the name at 20 points to 13 (inside the label), which
        // reads on to a pointer at 15 back to 13: not before the run start 13.
        var bytes = Self.header
        bytes[5] = 2
        bytes += [4, 1, 0x61, 0xC0, 13, 0, 0, 1, 0, 1]  // q1 name "\001a\192\013" as one label (valid)
        bytes += [0xC0, 13, 0, 1, 0, 1]
        #expect(Self.decodeError(bytes) == .invalidCompressionPointer(offset: 15, target: 13))
    }

    @Test func labelLongerThan63() {
        #expect(
            Self.decodeError(Self.question([64] + Array(repeating: 0x61, count: 64) + [0]))
                == .invalidLabelLength(offset: 12, length: 64))
        #expect(Self.decodeError(Self.question([0x80, 0])) == .invalidLabelLength(offset: 12, length: 0x80))
    }

    @Test func nameLongerThan255() {
        let label: [UInt8] = [63] + Array(repeating: 0x61, count: 63)
        #expect(Self.decodeError(Self.question(label + label + label + label + [0])) == .nameTooLong(offset: 12))
    }

    @Test func nameLongerThan255ThroughPointers() {
        // A 250-octet name, then a name that adds two more 63-octet labels in front of a pointer to it.
        let label: [UInt8] = [62] + Array(repeating: 0x61, count: 62)
        var bytes = Self.header
        bytes[5] = 2
        bytes += label + label + label + [58] + Array(repeating: 0x62, count: 58) + [0, 0, 1, 0, 1]
        bytes += label + label + [0xC0, 12, 0, 1, 0, 1]
        #expect(Self.decodeError(bytes) == .nameTooLong(offset: 12 + 249 + 4))
    }

    @Test func trailingGarbage() {
        let bytes = Self.question([1, 0x61, 0]) + [0xDE, 0xAD]
        #expect(Self.decodeError(bytes) == .trailingData(offset: bytes.count - 2))
    }

    @Test func oversizeMessage() {
        let bytes = Self.question([0]) + Array(repeating: 0, count: 65_536)
        #expect(Self.decodeError(bytes) == .messageTooLarge(size: bytes.count))
    }

    @Test func recordDataOfTheWrongSize() {
        var bytes = Self.question([0])
        bytes[7] = 1
        bytes += [0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 5, 198, 18, 0, 1, 9]
        #expect(Self.decodeError(bytes) == .invalidRecordData(offset: bytes.count - 5, type: .a))
        var aaaa = Self.question([0])
        aaaa[7] = 1
        aaaa += [0, 0, 28, 0, 1, 0, 0, 0, 1, 0, 4, 198, 18, 0, 1]
        #expect(Self.decodeError(aaaa) == .invalidRecordData(offset: aaaa.count - 4, type: .aaaa))
    }

    @Test func cnameTargetRunningPastItsRecordData() {
        var bytes = Self.question([0])
        bytes[7] = 1
        bytes += [0, 0, 5, 0, 1, 0, 0, 0, 1, 0, 2, 3, 0x61, 0x62, 0x63, 0]  // rdlength 2, name needs 5
        #expect(Self.decodeError(bytes) == .truncated(offset: bytes.count - 3))
    }

    @Test func randomCorruptionNeverCrashesOrHangs() throws {
        var random = SplitMix64(seed: 0x5EED_D45)
        let seeds: [[UInt8]] = [
            try Self.sampleResponse.encoded(),
            try DNSMessage(
                header: DNSHeader(id: 9, isResponse: true),
                questions: [DNSQuestion(name: Self.name("backend.default.weft"), type: .aaaa)],
                answers: (0..<8).map {
                    .aaaa(Self.name("backend.default.weft"), .v6(0x2001_0002_0000_0000, UInt64($0)), ttl: 5)
                }
            ).encoded(),
        ]
        let clock = ContinuousClock()
        let start = clock.now
        var decoded = 0
        for iteration in 0..<20_000 {
            var bytes = seeds[iteration % seeds.count]
            for _ in 0...(random.next() % 4) {
                let position = Int(random.next() % UInt64(bytes.count + 1))
                switch random.next() % 6 {
                case 0 where position < bytes.count:
                    bytes[position] = UInt8(truncatingIfNeeded: random.next())
                case 1:
                    bytes.removeLast(Int(random.next() % UInt64(bytes.count + 1)) / 4)
                case 2:
                    bytes.insert(
                        contentsOf: (0..<(random.next() % 8)).map { _ in UInt8(truncatingIfNeeded: random.next()) },
                        at: position)
                case 3 where position + 1 < bytes.count:
                    bytes[position] = 0xC0 | UInt8(random.next() % 2)
                    bytes[position + 1] = UInt8(truncatingIfNeeded: random.next())
                case 4 where position + 1 < bytes.count && position >= 4 && position < 12:
                    bytes[position] = 0xFF
                default:
                    if position < bytes.count { bytes[position] ^= 1 << (random.next() % 8) }
                }
            }
            if let message = try? DNSMessage(decoding: bytes) {
                decoded += 1
                if let again = try? message.encoded() {
                    #expect(try DNSMessage(decoding: again) == message)
                }
            }
            _ = try? DNSMessage.decodeQuestions(bytes)
        }
        #expect(clock.now - start < .seconds(60))
        #expect(decoded > 0)
    }
}

/// A small seeded generator so that corruption runs are reproducible.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
