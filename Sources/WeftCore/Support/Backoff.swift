/// Exponential backoff: `base` doubling per failure up to `cap`, each delay jittered by `jitter` (0.2: ±20 %).
public struct Backoff: Sendable, Equatable {
    public let base: Duration
    public let cap: Duration
    public let jitter: Double
    /// Failures since the last success.
    public private(set) var failures = 0

    public init(base: Duration, cap: Duration, jitter: Double = 0.2) {
        self.base = base
        self.cap = cap
        self.jitter = jitter
    }

    /// Counts a failure and returns how long to wait before the next try; `random` is in 0...1 (the jitter).
    public mutating func failed(random: Double = Double.random(in: 0...1)) -> Duration {
        let delay = min(base * Double(1 << min(failures, 30)), cap)
        failures += 1
        return delay * (1 - jitter + 2 * jitter * random)
    }

    public mutating func succeeded() {
        failures = 0
    }
}
