import CohortBase
import Averaging
import Testing
@testable import Peer

@Suite struct EarlyChunksTests {
    let flooder = PeerID(bytes: [UInt8](repeating: 1, count: 32))!
    let honest = PeerID(bytes: [UInt8](repeating: 2, count: 32))!

    private func chunk(from sender: PeerID, index: Int = 0, byteCount: Int = 4, step: UInt64 = 0) -> PartChunk {
        PartChunk(roundID: 7, step: step, part: 0, chunk: index, sender: sender, compression: .none,
                  bytes: [UInt8](repeating: 0, count: byteCount)[...])
    }

    @Test func aSenderThatFilledItsShareLeavesRoomForOthers() {
        var early = EarlyChunks<Int>()
        var index = 0
        while early.hold(chunk(from: flooder, index: index), waiting: index) { index += 1 }
        #expect(index == early.limits.maxChunksPerSender)
        let heldHonest = early.hold(chunk(from: honest), waiting: -1)
        #expect(heldHonest)
        let held = early.removeAll().map(\.waiting)
        #expect(held == Array(0..<index) + [-1], "held in the order they arrived")
    }

    @Test func chunksOfEarlierStepsLeaveAndFreeTheirSendersShare() {
        var limits = EarlyChunks<Int>.Limits()
        limits.maxChunksPerSender = 2
        var early = EarlyChunks<Int>(limits: limits)
        let held = [(3, 0), (4, 1), (5, 2)].map { step, index in early.hold(chunk(from: flooder, index: index, step: UInt64(step)), waiting: step) }
        #expect(held == [true, true, false])
        #expect(early.removeAll(before: 4).map(\.waiting) == [3])
        let heldAgain = early.hold(chunk(from: flooder, index: 2, step: 5), waiting: 5)
        #expect(heldAgain, "the removed chunk's place in the share is free")
        #expect(early.removeAll().map(\.waiting) == [4, 5])
    }

    @Test func aSendersShareIsBoundedInBytes() {
        var limits = EarlyChunks<Int>.Limits()
        limits.maxBytesPerSender = 10
        var early = EarlyChunks<Int>(limits: limits)
        let held = [(flooder, 6), (flooder, 5), (flooder, 4), (honest, 10)].map { sender, byteCount in
            early.hold(chunk(from: sender, byteCount: byteCount), waiting: byteCount)
        }
        #expect(held == [true, false, true, true])
    }

    @Test func theBufferIsBoundedInTotalAndEmptiedSharesStartAgain() {
        var limits = EarlyChunks<Int>.Limits()
        limits.maxChunks = 2
        limits.maxChunksPerSender = 1
        var early = EarlyChunks<Int>(limits: limits)
        let third = PeerID(bytes: [UInt8](repeating: 3, count: 32))!
        let before = [flooder, honest, third].map { early.hold(chunk(from: $0), waiting: 0) }
        #expect(before == [true, true, false])
        let emptied = early.removeAll()
        #expect(emptied.count == 2)
        let after = [flooder, third].map { early.hold(chunk(from: $0), waiting: 0) }
        #expect(after == [true, true])
    }
}
