import CohortBase
import Testing
@testable import Averaging

/// The owner's inbound rate, which the bandwidth estimate follows: each sender's chunks after
/// its first, over the time they took, summed over senders.
@Suite struct InboundRateTests {
    /// Three members with equal weights; member 0 owns elements 0..<24, six chunks of 4 floats (16 bytes).
    static let plan = GroupPlan(step: 41, elementCount: 72, members: (1...3).map { declaration(peerID(UInt8($0))) })!
    static let settings = AllReduceRound.Settings(compression: .none, chunkSize: 4)

    static func chunk(_ chunk: Int, from sender: Int) -> PartChunk {
        let values = [Float](repeating: Float(sender), count: 4)
        return PartChunk(roundID: plan.id, step: plan.step, part: 0, chunk: chunk, sender: peerID(UInt8(sender + 1)), compression: .none,
                         bytes: values.withUnsafeBytes { Array($0) }[...])
    }

    /// Delivers each sender's chunks at the given times, then ends the round at its deadline.
    static func result(arrivals: [Int: [Double]]) -> AllReduceResult? {
        let owner = SimulatedMember(plan: plan, index: 0, values: [Float](repeating: 0, count: 72), settings: settings)
        _ = owner.round.start()
        for (sender, times) in arrivals.sorted(by: { $0.key < $1.key }) {
            for (index, time) in times.enumerated() {
                _ = owner.round.onPartChunk(Self.chunk(index, from: sender), now: seconds(time))
            }
        }
        for action in owner.round.onDeadline(now: .zero + settings.roundTimeout) {
            if case .finished(let result) = action { return result }
        }
        return nil
    }

    @Test func sendersRatesAddUp() throws {
        // Sender 1: 32 bytes after its first chunk in 2 s; sender 2: the same in 0.5 s.
        let result = try #require(Self.result(arrivals: [1: [1, 2, 3], 2: [1, 1.25, 1.5]]))
        #expect(abs(try #require(result.inboundBytesPerSecond) - (16 + 64)) < 1e-9)
    }

    @Test func theWaitBeforeASendersFirstChunkIsNotCounted() throws {
        // A late start (the sender received the plan later) says nothing about the link.
        let early = try #require(Self.result(arrivals: [1: [0, 1]]))
        let late = try #require(Self.result(arrivals: [1: [10, 11]]))
        #expect(abs(try #require(early.inboundBytesPerSecond) - 16) < 1e-9)
        #expect(abs(try #require(late.inboundBytesPerSecond) - 16) < 1e-9)
    }

    @Test func aShortLastChunkAfterTheFirstMeasuresNothingUntilAWholeChunksWorthCame() {
        var arrivals = ChunkArrivals(bytes: 16, at: seconds(1))
        arrivals.record(bytes: 8, at: seconds(1.001))
        #expect(arrivals.bytesPerSecond == nil, "8 bytes after a 16-byte chunk say nothing about the link")
        arrivals.record(bytes: 8, at: seconds(2))
        #expect(arrivals.bytesPerSecond == 16)
    }

    @Test func aRoundWithNoSenderDeliveringTwoChunksMeasuresNothing() throws {
        let result = try #require(Self.result(arrivals: [1: [1], 2: [2]]))
        #expect(result.inboundBytesPerSecond == nil)
    }
}
