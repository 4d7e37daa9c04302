import Collaboration
import Testing

@Suite struct RoundAgreementTests {
    static let low: [UInt8] = [0x10, 0xFF]
    static let high: [UInt8] = [0x20, 0x00]
    static let other: [UInt8] = [0x30, 0x00]

    @Test func theHashMostMembersHoldWins() {
        #expect(RoundAgreement.agreedHash(among: [Self.high, Self.low, Self.high]) == Self.high)
    }

    @Test func aTieGoesToTheSmallestHashWhicheverMemberAsks() {
        // The two members of a split pair each list their own hash first: both must pick one.
        #expect(RoundAgreement.agreedHash(among: [Self.high, Self.low]) == Self.low)
        #expect(RoundAgreement.agreedHash(among: [Self.low, Self.high]) == Self.low)
        #expect(RoundAgreement.agreedHash(among: [Self.other, Self.high, Self.low]) == Self.low)
    }

    @Test func aMemberAloneAgreesWithItselfAndNobodyWithNothing() {
        #expect(RoundAgreement.agreedHash(among: [Self.high]) == Self.high)
        #expect(RoundAgreement.agreedHash(among: []) == nil)
    }
}
