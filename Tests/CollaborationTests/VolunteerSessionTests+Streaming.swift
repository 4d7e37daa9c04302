import CohortBase
import Averaging
import Testing
import Trainer
@testable import Collaboration

/// Streaming local SGD (`LocalSGDSettings.fragments`): a round averages the step's fragment of
/// the vector, and its update leaves everything else to local training.
extension VolunteerSessionTests {
    static func streaming(_ settings: inout VolunteerSession.Settings) {
        settings.localSGD = LocalSGDSettings(localSteps: 4, fragments: 2)
    }

    @Test func aStreamingRoundAveragesTheStepsFragmentAndItsUpdateSkipsTheRest() throws {
        let other = Self.others[0]
        var (harness, plan) = try #require(Self.roundStarted(with: other, configure: Self.streaming), "expected the round to start")
        let half = Harness.elementCount / 2
        #expect(plan.elementCount == half, "the plan cuts the fragment of step 0, not the whole vector")
        let failed = plan.parts[plan.index(of: other.peerID)!]
        var result = Self.averagedByAll(plan)
        result.failedParts = [failed]
        let skipped = UpdateHeader.normalisedSkipped([failed, half..<Harness.elementCount])
        #expect(harness.feed(.roundFinished(result)) == [.applyUpdate(skipping: skipped, samples: 44), .announceState])
    }

    @Test func anUpdatesSkippedElementsAreTheFailedPartsInTheFragmentAndAllOutsideIt() {
        let harness = Harness(identity: Self.lowest, coordinator: Self.coordinator.peerID, configure: Self.streaming)
        let count = Harness.elementCount, half = count / 2
        #expect(harness.session.skippedElements(failedParts: [], step: 1) == [0..<half])
        #expect(harness.session.skippedElements(failedParts: [0..<10, 200..<250], step: 1) == [0..<half + 10, half + 200..<count],
                "parts are ranges of the fragment, and touching ranges merge")
        #expect(harness.session.skippedElements(failedParts: [20..<30], step: 2) == [20..<30, half..<count])
        let whole = Harness(identity: Self.lowest, coordinator: Self.coordinator.peerID)
        #expect(whole.session.skippedElements(failedParts: [20..<30], step: 1) == [20..<30])
    }
}
