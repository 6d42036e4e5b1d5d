/// Picks a service's VIP: deterministic from the service name (so a rebuilt registry tends to give the same
/// addresses), never one that is taken, never the first or last address of the range.
public enum VIPAllocator {
    /// The VIP for `service` in `range`, or nil when the range is full. IPv4 ranges only.
    public static func allocate(for service: ServiceName, in range: IPCIDR, taken: Set<IPAddress>) -> IPAddress? {
        guard case .v4(let network) = range.network, range.prefixLength <= 30 else { return nil }
        let size = UInt64(1) << UInt64(32 - range.prefixLength)
        let usable = size - 2
        guard UInt64(taken.count) < usable else { return nil }
        let start = fnv1a(service.description) % usable
        for step in 0..<usable {
            let offset = 1 + (start + step) % usable
            let candidate = IPAddress.v4(network &+ UInt32(offset))
            if !taken.contains(candidate) { return candidate }
        }
        return nil
    }

    private static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
