import Testing
import WeftCore

@Suite struct VIPAllocatorTests {
    let range = try! IPCIDR("240.0.0.0/4")

    @Test func stableForAName() {
        let name = ServiceName(name: "backend")
        let first = VIPAllocator.allocate(for: name, in: range, taken: [])
        #expect(first != nil)
        #expect(VIPAllocator.allocate(for: name, in: range, taken: []) == first)
        #expect(range.contains(first!))
    }

    @Test func neverHandsOutATakenAddress() throws {
        let small = try IPCIDR("240.0.0.0/29")  // 6 usable addresses
        var taken = Set<IPAddress>()
        for index in 0..<6 {
            let vip = try #require(
                VIPAllocator.allocate(for: ServiceName(name: "svc-\(index)"), in: small, taken: taken))
            #expect(!taken.contains(vip))
            #expect(vip != small.network && vip != small.last, "never the first or last address")
            taken.insert(vip)
        }
        #expect(VIPAllocator.allocate(for: ServiceName(name: "one-more"), in: small, taken: taken) == nil)
    }

    @Test func collisionProbesToTheNextFree() {
        let name = ServiceName(name: "backend")
        let preferred = VIPAllocator.allocate(for: name, in: range, taken: [])!
        let second = VIPAllocator.allocate(for: name, in: range, taken: [preferred])
        #expect(second != nil && second != preferred)
    }

    @Test func refusesIPv6AndTinyRanges() throws {
        #expect(VIPAllocator.allocate(for: ServiceName(name: "a"), in: try IPCIDR("2001:2::/64"), taken: []) == nil)
        #expect(VIPAllocator.allocate(for: ServiceName(name: "a"), in: try IPCIDR("240.0.0.0/31"), taken: []) == nil)
    }
}
