import Testing
@testable import Collaboration

/// The updates a peer keeps for replays, and the check of a donor's chain.
@Suite struct UpdateLogTests {
    static func hash(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 32) }

    /// The update from step `step` (state hash `step`) to the next (hash `step + 1`).
    static func update(from step: Int, before: UInt8? = nil, skipped: [Range<Int>] = []) -> AppliedUpdate {
        let header = UpdateHeader(fromStep: step, hashBefore: hash(before ?? UInt8(step)), hashAfter: hash(UInt8(step + 1)),
                                  elementCount: 8, skipped: skipped)
        return AppliedUpdate(header: header, gradients: [Float](repeating: Float(step), count: 8))
    }

    @Test func theLogKeepsTheNewestUpdatesUpToItsCapacity() {
        var log = UpdateLog(capacity: 3)
        for step in 10..<15 { log.append(Self.update(from: step)) }
        #expect(log.updates.map(\.header.fromStep) == [12, 13, 14])
        #expect(log.chain(fromStep: 12, fromHash: Self.hash(12), toStep: 15, toHash: Self.hash(15))?.map(\.header.fromStep) == [12, 13, 14])
        #expect(log.chain(fromStep: 13, fromHash: Self.hash(13), toStep: 14, toHash: Self.hash(14))?.map(\.header.fromStep) == [13])
        #expect(log.chain(fromStep: 11, fromHash: Self.hash(11), toStep: 14, toHash: Self.hash(14)) == nil, "forgotten")
        #expect(log.chain(fromStep: 12, fromHash: Self.hash(12), toStep: 16, toHash: Self.hash(16)) == nil, "not reached yet")
        #expect(log.chain(fromStep: 12, fromHash: Self.hash(12), toStep: 14, toHash: Self.hash(99)) == nil, "another end state")
        #expect(log.chain(fromStep: 12, fromHash: Self.hash(99), toStep: 14, toHash: Self.hash(14)) == nil, "another start state")
        #expect(log.update(fromStep: 13, hashBefore: Self.hash(13))?.gradients == [Float](repeating: 13, count: 8))
    }

    @Test func anUpdateAfterAReloadStartsANewChainSoNoneIsServedAcrossTheGap() {
        var log = UpdateLog(capacity: 4)
        log.append(Self.update(from: 10))
        log.append(Self.update(from: 11))
        // The peer reloaded another state of step 12 and stepped from it.
        log.append(Self.update(from: 12, before: 77))
        #expect(log.updates.map(\.header.fromStep) == [12])
        #expect(log.chain(fromStep: 10, fromHash: Self.hash(10), toStep: 13, toHash: Self.hash(13)) == nil)
        // A step skipped (a state downloaded further ahead) breaks the chain as well.
        log.append(Self.update(from: 20))
        #expect(log.updates.map(\.header.fromStep) == [20])
    }

    @Test func aLogOfNoCapacityKeepsNothingAndAnUnservableUpdateBreaksTheChain() {
        var none = UpdateLog(capacity: 0)
        none.append(Self.update(from: 1))
        #expect(none.updates.isEmpty)
        var log = UpdateLog(capacity: 4)
        log.append(Self.update(from: 1))
        // One skipped range more than a reply may carry: every other element.
        let elements = 2 * (UpdateHeader.maxSkippedRanges + 1)
        var crowded = Self.update(from: 2)
        crowded.header.elementCount = elements
        crowded.header.skipped = stride(from: 0, to: elements, by: 2).map { $0..<($0 + 1) }
        crowded.gradients = [Float](repeating: 0, count: elements)
        log.append(crowded)
        #expect(log.updates.isEmpty)
    }

    @Test func skippedRangesMustBeSortedApartNonEmptyAndWithinTheElements() {
        #expect(UpdateHeader.areValidSkipped([], elementCount: 10))
        #expect(UpdateHeader.areValidSkipped([0..<2, 2..<4, 8..<10], elementCount: 10))
        #expect(!UpdateHeader.areValidSkipped([4..<6, 0..<2], elementCount: 10))
        #expect(!UpdateHeader.areValidSkipped([0..<4, 3..<6], elementCount: 10))
        #expect(!UpdateHeader.areValidSkipped([3..<3], elementCount: 10))
        #expect(!UpdateHeader.areValidSkipped([8..<11], elementCount: 10))
        #expect(UpdateHeader.normalisedSkipped([6..<9, 0..<2, 2..<3, 7..<8, 4..<4]) == [0..<3, 6..<9])
    }

    @Test func aChainIsAcceptedOnlyWhenItLeadsFromTheAskedStateToTheAskedStateStepByStep() throws {
        let headers = (5..<8).map { Self.update(from: $0).header }
        let chain = try UpdateChain(headers: headers, fromStep: 5, fromHash: Self.hash(5), toStep: 8, toHash: Self.hash(8), elementCount: 8)
        #expect(chain.headers == headers)
        func refused(_ headers: [UpdateHeader], elementCount: Int = 8, toHash: UInt8 = 8) -> Bool {
            (try? UpdateChain(headers: headers, fromStep: 5, fromHash: Self.hash(5), toStep: 8, toHash: Self.hash(toHash),
                              elementCount: elementCount)) == nil
        }
        #expect(refused(Array(headers.prefix(2))), "too short")
        #expect(refused([headers[0], headers[2], headers[1]]), "out of order")
        var broken = headers
        broken[1].hashBefore = Self.hash(42)
        #expect(refused(broken), "a link that does not start where the last ended")
        #expect(refused(headers, toHash: 9), "another end state")
        #expect(refused(headers, elementCount: 9), "another model")
        var unordered = headers
        unordered[2].skipped = [4..<6, 0..<2]
        #expect(refused(unordered), "skipped ranges out of order")
        #expect((try? UpdateChain(headers: [], fromStep: 5, fromHash: Self.hash(5), toStep: 5, toHash: Self.hash(5), elementCount: 8)) == nil)
    }
}
