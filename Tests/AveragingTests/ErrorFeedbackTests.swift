import Testing
@testable import Averaging

/// Error feedback run through real all-reduce rounds (the simulated group's in-memory network):
/// a small value that shares its int8 block with a large one rounds to zero in every chunk a
/// member sends, round after round, unless the member carries what was lost.
struct ErrorFeedbackTests {
    static let elementCount = 384
    static let rounds = 60
    static let smallValue: Float = 0.003
    static let compression = Compression.blockwiseInt8(blockSize: 64)
    static let chunkSize = 100

    /// Members 0 and 1 push the even elements to +1 and −1 (they cancel); every member adds the
    /// same small value to the odd ones: the mean is the small value there, 0 elsewhere.
    static func contribution(of member: Int) -> [Float] {
        (0..<elementCount).map { index in
            guard index % 2 == 0 else { return smallValue }
            return member == 0 ? 1 : member == 1 ? -1 : 0
        }
    }

    static func plan() -> GroupPlan {
        GroupPlan(step: 41, elementCount: elementCount, members: (1...3).map { declaration(peerID(UInt8($0)), samples: 10) })!
    }

    /// The averages of `rounds` rounds summed, as the outer optimizer would apply them, per element.
    static func summedAverages(withErrorFeedback: Bool) -> [Double] {
        let plan = plan()
        let settings = AllReduceRound.Settings(compression: compression, chunkSize: chunkSize)
        let feedback = (0..<3).map { _ in ErrorFeedback(elementCount: elementCount) }
        var sums = [Double](repeating: 0, count: elementCount)
        for round in 0..<rounds {
            let vectors = (0..<3).map { member in
                var values = contribution(of: member)
                if withErrorFeedback {
                    values.withUnsafeMutableBufferPointer {
                        feedback[member].prepare($0, plan: plan, ownIndex: member, compression: compression, chunkSize: chunkSize)
                    }
                }
                return values
            }
            var group = SimulatedGroup(plan: plan, vectors: vectors, settings: settings, seed: UInt64(round))
            group.run()
            for member in 0..<3 {
                #expect(group.members[member].result?.isComplete == true)
                feedback[member].roundDelivered()
            }
            for index in 0..<elementCount { sums[index] += Double(group.members[0].vector[index]) }
        }
        return sums
    }

    /// The largest gap, over the small elements, between what the rounds applied and what the
    /// members contributed.
    static func largestShortfall(_ sums: [Double]) -> Double {
        stride(from: 1, to: elementCount, by: 2).map { abs(sums[$0] - Double(rounds) * Double(smallValue)) }.max()!
    }

    @Test func withoutItASmallValueBesideALargeOneIsLostInEveryRound() {
        let shortfall = Self.largestShortfall(Self.summedAverages(withErrorFeedback: false))
        // Two of three contributions round to zero in every round: a third of the total arrives.
        #expect(shortfall > 0.5 * Double(Self.rounds) * Double(Self.smallValue))
    }

    @Test func withItWhatCompressionTookArrivesInLaterRounds() {
        let sums = Self.summedAverages(withErrorFeedback: true)
        // Each member owes at most half an int8 step of its block (1/254) at any time; the
        // owners' quantised averages add a little more. None of it grows with the rounds.
        #expect(Self.largestShortfall(sums) < 2.0 / 254)
        for index in stride(from: 0, to: Self.elementCount, by: 2) { #expect(abs(sums[index]) < 2.0 / 254) }
    }

    /// Prepares member 0's `values` for a round of `plan()` with `feedback`.
    static func prepare(_ values: inout [Float], with feedback: ErrorFeedback, compression: Compression = compression) {
        values.withUnsafeMutableBufferPointer {
            feedback.prepare($0, plan: plan(), ownIndex: 0, compression: compression, chunkSize: chunkSize)
        }
    }

    @Test func theResidualIsOnlyWhatTheEncodingOfOthersPartsTook() {
        let feedback = ErrorFeedback(elementCount: Self.elementCount)
        var values = Self.contribution(of: 0)
        Self.prepare(&values, with: feedback)
        feedback.roundDelivered()
        #expect(feedback.largestResidual > 0 && feedback.largestResidual <= 1.0 / 254 * 1.001)
        let uncompressed = ErrorFeedback(elementCount: Self.elementCount)
        Self.prepare(&values, with: uncompressed, compression: .none)
        uncompressed.roundDelivered()
        #expect(uncompressed.largestResidual == 0)
    }

    @Test func aFailedRoundKeepsTheResidualOwedAndANonFiniteValueOwesNothing() {
        let feedback = ErrorFeedback(elementCount: Self.elementCount)
        var values = Self.contribution(of: 0)
        Self.prepare(&values, with: feedback)
        feedback.roundDelivered()
        let owed = feedback.largestResidual
        var broken = Self.contribution(of: 0)
        broken[Self.elementCount - 1] = .nan
        Self.prepare(&broken, with: feedback)
        feedback.roundFailed()
        #expect(feedback.largestResidual == owed)
        Self.prepare(&broken, with: feedback)
        feedback.roundDelivered()
        #expect(feedback.largestResidual.isFinite)
    }
}
