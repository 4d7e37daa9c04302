import CohortBase
import Testing

@Suite struct PeerIDTests {
    static func bytes(_ first: UInt8, last: UInt8 = 0) -> [UInt8] {
        [first] + [UInt8](repeating: 0, count: 30) + [last]
    }

    @Test func bytesRoundTripBigEndian() throws {
        let bytes = (0..<32).map { UInt8($0 * 7 + 1) }
        let id = try #require(PeerID(bytes: bytes))
        #expect(id.bytes == bytes)
        #expect(id.words.0 == 0x0108_0F16_1D24_2B32)
        #expect(PeerID(words: id.words) == id)
    }

    @Test func onlyThirtyTwoBytesMakeAnID() {
        #expect(PeerID(bytes: [UInt8](repeating: 1, count: 31)) == nil)
        #expect(PeerID(bytes: [UInt8](repeating: 1, count: 33)) == nil)
    }

    /// The lowest id leads matchmaking on every peer, so the order must be the bytes' order.
    @Test func orderIsTheBytesOrder() throws {
        let low = try #require(PeerID(bytes: Self.bytes(1, last: 0xFF)))
        let high = try #require(PeerID(bytes: Self.bytes(2)))
        let lowest = try #require(PeerID(bytes: Self.bytes(1, last: 0)))
        #expect(lowest < low && low < high)
        #expect([high, low, lowest].sorted() == [lowest, low, high])
    }

    @Test func descriptionsShowTheLeadingBytes() throws {
        let id = try #require(PeerID(bytes: [0x09, 0x3C, 0xAB, 0x01] + [UInt8](repeating: 0xFF, count: 28)))
        #expect(id.description == "093cab01")
        #expect(id.shortDescription == "093c…")
    }
}
