import CohortBase
import Admission
import Testing

@Suite struct RevocationListTests {
    @Test func listRoundTripsAndGrowsBySequence() throws {
        let list = try Sample.revocations([publicKey(Sample.alice)], sequence: 1)
        #expect(try RevocationList(decoding: list.encoded) == list)
        #expect(try RevocationList(text: Array(list.text.utf8)) == list)
        let next = list.contentsRevoking([publicKey(Sample.bob), publicKey(Sample.alice)], at: .at(Sample.now + 1))
        #expect(next.sequence == 2)
        #expect(Set(next.revokedKeys) == [publicKey(Sample.alice), publicKey(Sample.bob)])
        #expect(next.revokedKeys == next.revokedKeys.sorted { $0.lexicographicallyPrecedes($1) })
    }

    @Test func unsortedDuplicateOrSequenceZeroListsAreRefused() throws {
        let keys = [publicKey(Sample.alice), publicKey(Sample.bob)].sorted { $0.lexicographicallyPrecedes($1) }
        let unsorted = RevocationList.Contents(runName: "shakespeare", sequence: 1, issuedAt: .epoch, revokedKeys: keys.reversed())
        #expect(throws: AdmissionError("revocation list: revoked key 1 is not above the one before (keys must be sorted and unique)")) {
            try RevocationList(signing: unsorted, with: Sample.runKey)
        }
        let duplicate = RevocationList.Contents(runName: "shakespeare", sequence: 1, issuedAt: .epoch, revokedKeys: [keys[0], keys[0]])
        #expect(throws: AdmissionError.self) { try RevocationList(signing: duplicate, with: Sample.runKey) }
        let zero = RevocationList.Contents(runName: "shakespeare", sequence: 0, issuedAt: .epoch, revokedKeys: [])
        #expect(throws: AdmissionError("revocation list: sequence is 0; the first list is 1")) {
            try RevocationList(signing: zero, with: Sample.runKey)
        }
    }

    @Test func everyTruncationAndACountBeyondTheBytesIsRefused() throws {
        let bytes = try Sample.revocations([publicKey(Sample.alice), publicKey(Sample.bob)], sequence: 3).encoded
        for length in 0..<bytes.count {
            #expect(throws: AdmissionError.self) { try RevocationList(decoding: Array(bytes.prefix(length))) }
        }
        var countTooHigh = bytes
        let countOffset = 1 + 1 + "shakespeare".utf8.count + 16
        countTooHigh[countOffset] = 0xFF
        countTooHigh[countOffset + 1] = 0x03
        #expect(throws: AdmissionError("revocation list: key count: count 1023 cannot fit in 160 bytes")) {
            try RevocationList(decoding: countTooHigh)
        }
    }
}
