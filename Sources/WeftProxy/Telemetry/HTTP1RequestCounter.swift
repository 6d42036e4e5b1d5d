import NIOCore

/// Counts the HTTP/1.x requests in a client's byte stream without changing it, for request metrics on plain TCP
/// relays: request heads are read (Content-Length and chunked bodies skipped), so keep-alive and pipelined
/// requests each count once. A stream that does not start like an HTTP/1 request, a CONNECT or an upgrade, or a
/// head over 64 KiB ends the counting.
struct HTTP1RequestCounter {
    private enum State {
        case head
        case body(remaining: Int)
        case chunkSizeLine
        case chunkData(remaining: Int)
        case chunkDataEnd(remaining: Int)
        case trailers
        case stopped
    }

    private var state = State.head
    private var line: [UInt8] = []
    private var head: [UInt8] = []
    private var sniffed = false

    static let maximumHead = 64 << 10
    private static let methods = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE"].map {
        Array(($0 + " ").utf8)
    }

    /// True once nothing more will be counted on this stream.
    var isStopped: Bool {
        if case .stopped = state { return true }
        return false
    }

    /// Reads `bytes`; returns how many request heads they completed.
    mutating func consume(_ bytes: ByteBuffer) -> Int {
        var completed = 0
        var view = bytes.readableBytesView[...]
        while !view.isEmpty {
            switch state {
            case .stopped:
                return completed
            case .head:
                // Up to the head's end (CR LF CR LF, which may begin in bytes read before) or all there is.
                let headEnd = endOfHead(in: view)
                let taken = headEnd.map { $0 + 1 } ?? view.endIndex
                head.append(contentsOf: view[..<taken])
                view = view[taken...]
                if !sniffed, !sniff() { return completed }
                if head.count > Self.maximumHead {
                    state = .stopped
                } else if headEnd != nil {
                    completed += 1
                    state = Self.afterHead(head)
                    head.removeAll(keepingCapacity: true)
                    sniffed = false
                }
            case .body(let remaining):
                let skipped = min(remaining, view.count)
                view = view.dropFirst(skipped)
                state = remaining == skipped ? .head : .body(remaining: remaining - skipped)
            case .chunkSizeLine, .trailers:
                let byte = view.removeFirst()
                line.append(byte)
                guard byte == 10 else {
                    if line.count > 4096 { state = .stopped }
                    continue
                }
                let blank = line.allSatisfy { $0 == 13 || $0 == 10 || $0 == 32 || $0 == 9 }
                let size = Self.chunkSize(line)
                line.removeAll(keepingCapacity: true)
                if case .trailers = state {
                    if blank { state = .head }
                } else {
                    guard let size else {
                        state = .stopped
                        continue
                    }
                    state = size == 0 ? .trailers : .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let skipped = min(remaining, view.count)
                view = view.dropFirst(skipped)
                state = remaining == skipped ? .chunkDataEnd(remaining: 2) : .chunkData(remaining: remaining - skipped)
            case .chunkDataEnd(let remaining):
                view = view.dropFirst(1)
                state = remaining == 1 ? .chunkSizeLine : .chunkDataEnd(remaining: remaining - 1)
            }
        }
        return completed
    }

    /// The index of the LF that ends the head in `view`, looking back into `head` for the CR LF CR before it.
    private func endOfHead(in view: ByteBufferView.SubSequence) -> Int? {
        let start = view.startIndex
        func byte(at index: Int) -> UInt8? {
            if index >= start { return view[index] }
            let back = start - index
            return back <= head.count ? head[head.count - back] : nil
        }
        var from = start
        while let lf = view[from...].firstIndex(of: 10) {
            if byte(at: lf - 1) == 13, byte(at: lf - 2) == 10, byte(at: lf - 3) == 13 { return lf }
            from = lf + 1
        }
        return nil
    }

    /// Checks the first bytes of a head against the request methods; stops counting when they cannot be one.
    private mutating func sniff() -> Bool {
        var possible = false
        for method in Self.methods
        where head.count <= method.count ? method.starts(with: head) : head.starts(with: method) {
            possible = true
            if head.count >= method.count {
                sniffed = true
                break
            }
        }
        if !possible { state = .stopped }
        return possible
    }

    /// What follows a complete head: its body, the next head, or the end of counting (upgrades). Works on the bytes:
    /// this runs for every request.
    private static func afterHead(_ head: [UInt8]) -> State {
        var contentLength = 0
        var chunked = false
        var lineStart = 0
        while let lineEnd = head[lineStart...].firstIndex(of: 10) {
            let line = head[lineStart..<lineEnd]
            lineStart = lineEnd + 1
            guard let colon = line.firstIndex(of: 58) else { continue }  // ':'
            let name = line[line.startIndex..<colon]
            var value = line[(colon + 1)...]
            while let first = value.first, first == 32 || first == 9 { value = value.dropFirst() }
            while let last = value.last, last == 32 || last == 9 || last == 13 { value = value.dropLast() }
            if equalsIgnoringCase(name, "content-length") {
                var length = 0
                for digit in value {
                    guard (48...57).contains(digit), length < Int.max / 10 - 9 else { return .stopped }
                    length = length * 10 + Int(digit - 48)
                }
                contentLength = length
            } else if equalsIgnoringCase(name, "transfer-encoding") {
                chunked = value.count >= 7 && equalsIgnoringCase(value.suffix(7), "chunked")
            } else if equalsIgnoringCase(name, "upgrade") {
                return .stopped
            }
        }
        if chunked { return .chunkSizeLine }
        return contentLength > 0 ? .body(remaining: contentLength) : .head
    }

    private static func equalsIgnoringCase(_ bytes: ArraySlice<UInt8>, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        return lowercase.withUTF8Buffer { expected in
            zip(bytes, expected).allSatisfy { byte, wanted in (byte | 0x20) == wanted || byte == wanted }
        }
    }

    /// The chunk size at the start of a chunk-size line (hex digits, then optional `;extensions`); nil if none.
    private static func chunkSize(_ line: [UInt8]) -> Int? {
        var size = 0
        var digits = 0
        for byte in line {
            let value: Int
            switch byte {
            case 48...57: value = Int(byte - 48)
            case 97...102: value = Int(byte - 87)
            case 65...70: value = Int(byte - 55)
            default:
                return digits > 0 ? size : nil
            }
            guard size < (Int.max >> 4) else { return nil }
            size = size << 4 | value
            digits += 1
        }
        return digits > 0 ? size : nil
    }
}

/// Counts the requests passing through, inbound, without changing the bytes; removes itself once counting ends.
final class HTTPRequestCounterHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var counter = HTTP1RequestCounter()
    private let onRequest: () -> Void

    init(onRequest: @escaping () -> Void) {
        self.onRequest = onRequest
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let requests = counter.consume(unwrapInboundIn(data))
        for _ in 0..<requests { onRequest() }
        context.fireChannelRead(data)
        if counter.isStopped { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }
}
