import Dispatch
import NIOConcurrencyHelpers
import Testing

@testable import WeftProxy

/// A stuck standard output costs access-log lines, counted, never unbounded memory.
struct BoundedLineWriterTests {
    @Test func linesPastTheCapacityAreDroppedAndCountedWhileTheWriterIsStuck() async throws {
        let gate = DispatchSemaphore(value: 0)
        let written = NIOLockedValueBox<[String]>([])
        let dropped = NIOLockedValueBox(0)
        let writer = BoundedLineWriter(
            capacity: 3, label: "test.bounded", onDrop: { dropped.withLockedValue { $0 += 1 } }
        ) {
            line in
            if line == "first" { gate.wait() }
            written.withLockedValue { $0.append(line) }
        }
        #expect(writer.enqueue("first"))
        // The writer takes "first" and blocks in it; three more wait, the rest are dropped.
        #expect(await eventually { writer.waiting == 0 })
        for index in 0..<3 { #expect(writer.enqueue("line-\(index)")) }
        for index in 3..<10 { #expect(!writer.enqueue("line-\(index)")) }
        #expect(dropped.withLockedValue { $0 } == 7)
        #expect(writer.waiting == 3)

        gate.signal()
        #expect(await eventually { written.withLockedValue { $0.count } == 4 })
        #expect(written.withLockedValue { $0 } == ["first", "line-0", "line-1", "line-2"])
        #expect(writer.enqueue("after"), "room again once the writer caught up")
        #expect(await eventually { written.withLockedValue { $0.last } == "after" })
    }
}
