extension Duration {
    /// Seconds as a `Double` (a `TimeInterval`), for `Date` arithmetic.
    public var timeInterval: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
