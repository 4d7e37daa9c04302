import CohortBase
import Testing
@testable import Averaging

/// The sender deadline when senders stream through a window (as the node shell does): a live
/// sender that waits for averages held up by a stalled one must not be left out with it.
@Suite struct SenderDeadlineTests {
    /// Four members with equal weights; member 0 owns elements 0..<24, six chunks of 4.
    static let plan = GroupPlan(step: 41, elementCount: 96, members: (1...4).map { declaration(peerID(UInt8($0))) })!
    static let settings = AllReduceRound.Settings(compression: .none, chunkSize: 4)

    /// Sender `sender`'s chunk of member 0's part: every value equals the sender's index.
    static func chunk(_ chunk: Int, from sender: Int) -> PartChunk {
        let values = [Float](repeating: Float(sender), count: 4)
        return PartChunk(roundID: plan.id, step: plan.step, part: 0, chunk: chunk, sender: peerID(UInt8(sender + 1)), compression: .none,
                         bytes: values.withUnsafeBytes { Array($0) }[...])
    }

    static func averagedChunks(_ actions: [AllReduceRound.Action]) -> [Int] {
        actions.compactMap { action in
            guard case .sendAveragedChunk(let reference, _) = action else { return nil }
            return reference.chunk
        }
    }

    @Test func aSenderWaitingOnAStalledOneStaysInAfterTheSenderDeadline() {
        let owner = SimulatedMember(plan: Self.plan, index: 0, values: [Float](repeating: 0, count: 96), settings: Self.settings)
        _ = owner.round.start()
        // Sender 1 stalls after two chunks; senders 2 and 3 have four in flight (their window).
        for chunk in 0..<2 { _ = owner.round.onPartChunk(Self.chunk(chunk, from: 1), now: .zero) }
        var finalised: [Int] = []
        for chunk in 0..<4 {
            for sender in [2, 3] {
                finalised += Self.averagedChunks(owner.round.onPartChunk(Self.chunk(chunk, from: sender), now: .zero))
            }
        }
        #expect(finalised == [0, 1])

        let atSenderDeadline = owner.round.onDeadline(now: .zero + Self.settings.senderTimeout)
        #expect(Self.averagedChunks(atSenderDeadline) == [2, 3])
        // The window moves on: senders 2 and 3 deliver the last chunks, which average at once.
        finalised = []
        for chunk in 4..<6 {
            for sender in [2, 3] {
                finalised += Self.averagedChunks(owner.round.onPartChunk(Self.chunk(chunk, from: sender), now: .zero))
            }
        }
        #expect(finalised == [4, 5])
        // Chunks 0–1 average all four members (0+1+2+3)/4; the rest leave sender 1 out: (0+2+3)/3.
        #expect(Array(owner.vector[0..<8]) == [Float](repeating: 1.5, count: 8))
        #expect(Array(owner.vector[8..<24]) == [Float](repeating: 5.0 / 3.0, count: 16))
    }

    @Test func theRoundDeadlineLeavesOutEverySenderStillOwingAChunk() {
        let owner = SimulatedMember(plan: Self.plan, index: 0, values: [Float](repeating: 0, count: 96), settings: Self.settings)
        _ = owner.round.start()
        for chunk in 0..<3 {
            for sender in 1...3 { _ = owner.round.onPartChunk(Self.chunk(chunk, from: sender), now: .zero) }
        }
        _ = owner.round.onPartChunk(Self.chunk(3, from: 2), now: .zero)
        let actions = owner.round.onDeadline(now: .zero + Self.settings.roundTimeout)
        #expect(Self.averagedChunks(actions) == [3, 4, 5])
        guard case .finished(let result) = actions.last else {
            Issue.record("the round did not finish at its deadline: \(actions)")
            return
        }
        #expect(result.leftOut == [peerID(2), peerID(3), peerID(4)])
        #expect(Array(owner.vector[12..<16]) == [Float](repeating: 1, count: 4), "chunk 3 averages owner and sender 2")
    }
}
