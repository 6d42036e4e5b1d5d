import Testing
import WeftCore

/// `DurationText.milliseconds` prints what Foundation's `.units(allowed: [.milliseconds], fractionalPart:
/// .show(length: 2))` printed in `weft-node capture install` (Scripts/bench/capture reads the number before " ms").
@Suite struct DurationMillisecondsTests {
    @Test(arguments: [
        (Duration.milliseconds(12) + .microseconds(345), "12.35 ms"), (.microseconds(3_004), "3.00 ms"),
        (.milliseconds(1_500), "1500.00 ms"), (.zero, "0.00 ms"), (.microseconds(50), "0.05 ms"),
    ])
    func twoDecimals(_ duration: Duration, _ text: String) {
        #expect(DurationText.milliseconds(duration) == text)
    }
}
