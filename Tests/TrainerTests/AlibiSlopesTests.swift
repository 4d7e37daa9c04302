import Testing
@testable import Trainer

@Suite struct AlibiSlopesTests {
    @Test func powerOfTwoHeadCountsFormAGeometricSequence() {
        let slopes = AlibiSlopes.slopes(headCount: 8)
        #expect(slopes.count == 8)
        for (index, slope) in slopes.enumerated() {
            #expect(abs(slope - 1 / Double(1 << (index + 1))) < 1e-12)
        }
    }

    @Test func nonPowerOfTwoTakesEveryOtherSlopeOfTheNextPower() {
        // 6 heads: the 4-head sequence 2^-2, 2^-4, 2^-6, 2^-8, then slopes 1 and 3 of the 8-head one.
        let slopes = AlibiSlopes.slopes(headCount: 6)
        let expected = [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]
        #expect(slopes.count == expected.count)
        for (slope, want) in zip(slopes, expected) { #expect(abs(slope - want) < 1e-12) }
    }
}
