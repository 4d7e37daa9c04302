import StateSync
import Collaboration
import Testing
import Wire
@testable import Peer
@testable import StateSync

/// The replay messages: every field from the network bounded, a bad payload an error.
@Suite struct UpdatePayloadTests {
    static func hash(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 32) }

    static func header(from step: Int, skipped: [Range<Int>] = []) -> UpdateHeader {
        UpdateHeader(fromStep: step, hashBefore: hash(UInt8(step)), hashAfter: hash(UInt8(step + 1)), elementCount: 1_000, skipped: skipped)
    }

    @Test func requestsRoundTripAndRefuseStepsOutOfRange() throws {
        let ask = UpdatesRequest(fromStep: 40, fromHash: Self.hash(4), toStep: 43, toHash: Self.hash(7))
        #expect(ask.encoded.count == 80)
        #expect(try UpdatesRequest(decoding: ask.encoded) == ask)
        for (from, to) in [(43, 43), (44, 43), (0, UpdateChain.maxLength + 1)] {
            let bad = UpdatesRequest(fromStep: from, fromHash: Self.hash(4), toStep: to, toHash: Self.hash(7)).encoded
            #expect(throws: WireError.self) { try UpdatesRequest(decoding: bad) }
        }
        #expect(throws: WireError.self) { try UpdatesRequest(decoding: ask.encoded + [0]) }
        let chunk = UpdateChunkRequest(fromStep: 40, hashBefore: Self.hash(4), firstElement: 262_144, elementCount: 1_000)
        #expect(try UpdateChunkRequest(decoding: chunk.encoded) == chunk)
        for count in [0, UpdateChunkRequest.maxElements + 1] {
            let bad = UpdateChunkRequest(fromStep: 40, hashBefore: Self.hash(4), firstElement: 0, elementCount: count).encoded
            #expect(throws: WireError.self) { try UpdateChunkRequest(decoding: bad) }
        }
        #expect(throws: WireError.self) { try UpdateChunkRequest(decoding: Array(chunk.encoded.dropLast())) }
    }

    @Test func aChainReplyRoundTripsWithItsSkippedRanges() throws {
        let headers = [Self.header(from: 40, skipped: [0..<10, 500..<1_000]), Self.header(from: 41)]
        #expect(try UpdatesReply.decode(UpdatesReply.encode(headers)) == headers)
    }

    @Test(arguments: [
        [0..<10, 5..<20],
        [20..<30, 0..<10],
        [990..<1_001],
        [4..<4],
    ])
    func aChainReplyWithSkippedRangesOutOfOrderOverlappingEmptyOrOutOfBoundsIsRefused(_ skipped: [Range<Int>]) {
        let payload = UpdatesReply.encode([Self.header(from: 40, skipped: skipped)])
        #expect(throws: WireError.self) { try UpdatesReply.decode(payload) }
    }

    @Test func chainRepliesOfNoUpdateTooManyOrClaimingMoreThanTheyHoldAreRefused() {
        #expect(throws: WireError.self) { try UpdatesReply.decode(UpdatesReply.encode([])) }
        let tooMany = (0...UpdateChain.maxLength).map { Self.header(from: $0) }
        #expect(throws: WireError.self) { try UpdatesReply.decode(UpdatesReply.encode(tooMany)) }
        var noElements = Self.header(from: 1)
        noElements.elementCount = 0
        #expect(throws: WireError.self) { try UpdatesReply.decode(UpdatesReply.encode([noElements])) }
        // Claims the most skipped ranges a header may have, and holds none of them.
        var writer = ByteWriter()
        writer.write(UInt16(1))
        writer.write(UInt64(1))
        writer.write(raw: Self.hash(1) + Self.hash(2))
        writer.write(UInt64(1_000))
        writer.write(UInt32(UpdateHeader.maxSkippedRanges))
        #expect(throws: WireError.self) { try UpdatesReply.decode(writer.bytes) }
        var overLimit = ByteWriter()
        overLimit.write(UInt16(1))
        overLimit.write(UInt64(1))
        overLimit.write(raw: Self.hash(1) + Self.hash(2))
        overLimit.write(UInt64(1_000))
        overLimit.write(UInt32(UpdateHeader.maxSkippedRanges + 1))
        #expect(throws: WireError.self) { try UpdatesReply.decode(overLimit.bytes) }
    }

    @Test func aChunkCarriesFourBytesPerValueExactly() throws {
        let values: [Float] = [1.5, -2, .infinity, 0]
        let chunk = try UpdateChunk(decoding: UpdateChunk.encode(fromStep: 7, firstElement: 12, values: values[...]))
        #expect(chunk.fromStep == 7 && chunk.firstElement == 12 && chunk.bytes.count == 16)
        var copied = [Float](repeating: 0, count: 4)
        copied.withUnsafeMutableBufferPointer { chunk.copyValues(into: $0) }
        #expect(copied == values)
        var ragged = ByteWriter()
        ragged.write(UInt64(7))
        ragged.write(UInt64(12))
        ragged.writeWithU32Length([UInt8](repeating: 0, count: 6))
        #expect(throws: WireError.self) { try UpdateChunk(decoding: ragged.bytes) }
        var oversized = ByteWriter()
        oversized.write(UInt64(7))
        oversized.write(UInt64(12))
        oversized.write(UInt32(4 * UpdateChunkRequest.maxElements + 4))
        #expect(throws: WireError.self) { try UpdateChunk(decoding: oversized.bytes) }
    }
}
