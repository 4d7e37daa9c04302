import Testing
@testable import Averaging

@Suite struct PayloadTests {
    static let plan = GroupPlan(step: 41, elementCount: 1_000, members: [
        declaration(peerID(3), bandwidth: 300),
        declaration(peerID(1), bandwidth: 100, clientMode: true, samples: 7),
        declaration(peerID(2), bandwidth: 700, samples: 9),
    ])!

    @Test func planOrdersMembersByIdAndSplitsByBandwidth() {
        #expect(Self.plan.members.map(\.peer) == [peerID(1), peerID(2), peerID(3)])
        // 700 counts for twice the owners' lower median, 300 (`ShareCap`): 600 against 300.
        #expect(Self.plan.parts == [0..<0, 0..<667, 667..<1_000])
        #expect(Self.plan.leader == peerID(2))
        #expect(Self.plan.totalSamples == 48)
    }

    @Test func declarationRoundTrips() throws {
        let original = Declaration(step: 7, peer: peerID(hex: "9f3c"), address: "[::1]:7000", bandwidth: 123_456_789,
                                   clientMode: true, samples: 512)
        #expect(try Declaration(decoding: original.encoded()[...]) == original)
    }

    @Test func planRoundTripsAndKeepsItsID() throws {
        let decoded = try GroupPlan(decoding: Self.plan.encoded()[...])
        #expect(decoded == Self.plan)
        #expect(decoded.id == Self.plan.id)
    }

    @Test func aPlanOnTheGridRoundTripsAndOneClaimingTheOtherCutIsRefused() throws {
        let onGrid = GroupPlan(step: 41, elementCount: 1_000, members: Self.plan.members, onGrid: true)!
        // 43 and 21 grid parts of 15 or 16 elements.
        #expect(onGrid.parts == [0..<0, 0..<671, 671..<1_000])
        #expect(onGrid.id != Self.plan.id)
        #expect(try GroupPlan(decoding: onGrid.encoded()[...]) == onGrid)
        // The flag is the byte after step and element count: flipped, the parts no longer follow.
        var flipped = Self.plan.encoded()
        #expect(flipped[16] == 0)
        flipped[16] = 1
        #expect(Self.kind { _ = try GroupPlan(decoding: flipped[...]) } == .inconsistentPlan)
    }

    @Test func chunkPayloadsRoundTripWithoutCopyingTheirBytes() throws {
        let part = PartChunk(roundID: Self.plan.id, step: Self.plan.step, part: 2, chunk: 17, sender: peerID(1),
                             compression: .blockwiseInt8(blockSize: 64), bytes: [1, 2, 3, 4, 5][...])
        let encodedPart = part.encoded()
        let decodedPart = try PartChunk(decoding: encodedPart[...])
        #expect(decodedPart == part)
        #expect(decodedPart.bytes.startIndex == encodedPart.count - 5)
        let averaged = AveragedChunk(roundID: 9, part: 1, chunk: 0, compression: .float16, bytes: [9, 8][...])
        #expect(try AveragedChunk(decoding: averaged.encoded()[...]) == averaged)
        let abort = Abort(roundID: 9, sender: peerID(4), reason: "disk full: stopping")
        #expect(try Abort(decoding: abort.encoded()[...]) == abort)
    }

    @Test func sameHostReferencesRoundTripAndMakeTheChunksTheyPointAt() throws {
        let memory = MemoryReference(address: 0x7F00_1234_5000, byteCount: 4096, lease: 0x7F00_0000_0040)
        let part = PartChunkReference(roundID: Self.plan.id, step: Self.plan.step, part: 2, chunk: 17, sender: peerID(1), compression: .float16, memory: memory)
        #expect(try PartChunkReference(decoding: part.encoded()[...]) == part)
        #expect(part.chunk(bytes: [1, 2][...]) == PartChunk(roundID: Self.plan.id, step: Self.plan.step, part: 2, chunk: 17, sender: peerID(1),
                                                           compression: .float16, bytes: [1, 2][...]))
        let averaged = AveragedChunkReference(roundID: 9, part: 1, chunk: 3, compression: .none, memory: memory)
        #expect(try AveragedChunkReference(decoding: averaged.encoded()[...]) == averaged)
        #expect(averaged.chunk(bytes: [7][...]) == AveragedChunk(roundID: 9, part: 1, chunk: 3, compression: .none, bytes: [7][...]))
        var huge = averaged.encoded()
        huge[huge.count - 12..<huge.count - 8] = [0xFF, 0xFF, 0xFF, 0xFF]  // byte count beyond ChunkLimits
        #expect(Self.kind { _ = try AveragedChunkReference(decoding: huge[...]) } == .outOfRange)
    }

    @Test func everyTruncationIsATypedError() {
        let payloads: [([UInt8], (ArraySlice<UInt8>) throws -> Void)] = [
            (declaration(peerID(5)).encoded(), { bytes in _ = try Declaration(decoding: bytes) }),
            (Self.plan.encoded(), { bytes in _ = try GroupPlan(decoding: bytes) }),
            (PartChunk(roundID: 1, step: 0, part: 0, chunk: 0, sender: peerID(1), compression: .none, bytes: [1, 2, 3, 4][...]).encoded(),
             { bytes in _ = try PartChunk(decoding: bytes) }),
            (Abort(roundID: 1, sender: peerID(1), reason: "x").encoded(),
             { bytes in _ = try Abort(decoding: bytes) }),
            (PartChunkReference(roundID: 1, step: 0, part: 0, chunk: 0, sender: peerID(1), compression: .none,
                                memory: MemoryReference(address: 1, byteCount: 4, lease: 2)).encoded(),
             { bytes in _ = try PartChunkReference(decoding: bytes) }),
            (AveragedChunkReference(roundID: 1, part: 0, chunk: 0, compression: .none,
                                    memory: MemoryReference(address: 1, byteCount: 4, lease: 2)).encoded(),
             { bytes in _ = try AveragedChunkReference(decoding: bytes) }),
        ]
        for (bytes, decode) in payloads {
            for length in 0..<bytes.count {
                #expect(throws: PayloadDecodingError.self) { try decode(bytes[..<length]) }
            }
            #expect(throws: PayloadDecodingError.self) { try decode((bytes + [0])[...]) }
        }
    }

    @Test func outOfRangeFieldsAreRefused() {
        var bytes = declaration(peerID(5)).encoded()
        bytes[8 + 32 + 2 + 13 + 8] = 2  // the client-mode flag
        #expect(Self.kind { _ = try Declaration(decoding: bytes[...]) } == .outOfRange)
        let zeroSamples = declaration(peerID(5), samples: 0).encoded()
        #expect(Self.kind { _ = try Declaration(decoding: zeroSamples[...]) } == .outOfRange)
        var chunk = PartChunk(roundID: 1, step: 0, part: 0, chunk: 0, sender: peerID(1), compression: .none, bytes: [][...]).encoded()
        chunk[8 + 2 + 4 + 8 + 32] = 3  // unknown codec
        #expect(Self.kind { _ = try PartChunk(decoding: chunk[...]) } == .outOfRange)
    }

    @Test func tamperedPlansAreRefused() {
        var bandwidth = Self.plan.encoded()
        let firstBandwidth = 8 + 8 + 2 + 32 + 2 + 13
        bandwidth[firstBandwidth] ^= 1
        #expect(Self.kind { _ = try GroupPlan(decoding: bandwidth[...]) } == .inconsistentPlan)
        var id = Self.plan.encoded()
        id[id.count - 1] ^= 1
        #expect(Self.kind { _ = try GroupPlan(decoding: id[...]) } == .inconsistentPlan)
    }

    /// Found by FuzzAveragingPayloads: a declaration announcing 0xf2000000_00bebc20 bytes/s.
    /// Two such members overflowed `LoadBalancing`'s bandwidth sum, a precondition failure in
    /// any leader forming a plan with them (and in any member decoding such a plan).
    static let fuzzHugeBandwidthDeclaration: [UInt8] = hexBytes(
        "0700000000000000000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
            + "0d0031302e302e302e313a3430303020bcbe00000000f2004000000000000000")

    @Test func fuzzCrashHugeBandwidthDeclarationIsRefused() throws {
        #expect(Self.kind { _ = try Declaration(decoding: Self.fuzzHugeBandwidthDeclaration[...]) } == .outOfRange)
        var atLimit = Self.fuzzHugeBandwidthDeclaration
        atLimit.replaceSubrange(55..<63, with: [0, 0, 0, 0, 0, 0, 4, 0])  // exactly 2^50 bytes/s
        #expect(try Declaration(decoding: atLimit[...]).bandwidth == Declaration.maxBandwidth)
    }

    @Test func fuzzCrashPlansBeyondTheLimitsAreNotFormed() {
        let huge = [declaration(peerID(1), bandwidth: 0xf200_0000_00be_bc20), declaration(peerID(2), bandwidth: 0xf200_0000_00be_bc20)]
        #expect(GroupPlan(step: 41, elementCount: 1_000, members: huge) == nil)
        let manySamples = [declaration(peerID(1), samples: .max), declaration(peerID(2), samples: .max)]
        #expect(GroupPlan(step: 41, elementCount: 1_000, members: manySamples) == nil)
        let atLimit = [declaration(peerID(1), bandwidth: Declaration.maxBandwidth, samples: Declaration.maxSamples),
                       declaration(peerID(2), bandwidth: Declaration.maxBandwidth, samples: Declaration.maxSamples)]
        let plan = GroupPlan(step: 41, elementCount: 1_000, members: atLimit)
        #expect(plan?.parts == [0..<500, 500..<1_000])
        #expect(plan?.totalSamples == 2 * Declaration.maxSamples)
    }

    @Test func fuzzCrashPlanWithHugeBandwidthIsRefused() {
        // The plan's encoding with the first member's bandwidth raised past the limit.
        var bytes = Self.plan.encoded()
        let firstBandwidth = 8 + 8 + 2 + 32 + 2 + 13
        bytes.replaceSubrange(firstBandwidth..<(firstBandwidth + 8), with: [0x20, 0xbc, 0xbe, 0, 0, 0, 0, 0xf2])
        #expect(Self.kind { _ = try GroupPlan(decoding: bytes[...]) } == .outOfRange)
        var samples = Self.plan.encoded()
        samples.replaceSubrange((firstBandwidth + 9)..<(firstBandwidth + 17), with: [UInt8](repeating: 0xff, count: 8))
        #expect(Self.kind { _ = try GroupPlan(decoding: samples[...]) } == .outOfRange)
    }

    static func kind(_ body: () throws -> Void) -> PayloadDecodingError.Kind? {
        do {
            try body()
            return nil
        } catch {
            return (error as? PayloadDecodingError)?.kind
        }
    }
}

func hexBytes(_ hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var characters = Array(hex)
    while characters.count >= 2 {
        bytes.append(UInt8(String(characters.prefix(2)), radix: 16)!)
        characters.removeFirst(2)
    }
    return bytes
}
