import CohortBase
import Collaboration
import Testing
import Trainer
import Wire
@testable import Peer
@testable import StateSync

/// A volunteer without a pinned coordinator key takes the run its join address signed, so an
/// impostor publishing a config under the run's name no longer blocks the run's joiners.
@Suite struct RunConfigChoiceTests {
    static let coordinator = PeerID(words: (1, 0, 0, 0))
    static let impostor = PeerID(words: (2, 0, 0, 0))
    static let bystander = PeerID(words: (3, 0, 0, 0))

    static func config(_ name: String, batch: Int = 64) -> RunConfig {
        var training = TrainingSettings(model: ModelConfig(hiddenSize: 32, layerCount: 1, headCount: 2, contextLength: 16))
        training.batchSize = 4
        return RunConfig(name: name, training: training, targetBatchSize: batch)
    }

    static func chosen(_ outcome: RunConfigChoice.Outcome) -> RunConfigChoice.Candidate? {
        if case .chosen(let candidate) = outcome { candidate } else { nil }
    }

    @Test func theConfigTheJoinNodeSignedWinsOverAnImpostorsOfTheSameName() throws {
        let configs: [RunConfigChoice.Candidate] = [(Self.config("shakespeare", batch: 1), Self.impostor),
                                                   (Self.config("shakespeare"), Self.coordinator)]
        for name in ["shakespeare", nil] {
            let outcome = try RunConfigChoice(runName: name, joinNodes: [Self.coordinator]).choose(among: configs)
            #expect(Self.chosen(outcome)?.coordinator == Self.coordinator)
            #expect(Self.chosen(outcome)?.config.targetBatchSize == 64)
        }
    }

    @Test func twoSignersOfTheRunAndNeitherAtTheJoinAddressAreRefused() {
        let configs: [RunConfigChoice.Candidate] = [(Self.config("shakespeare"), Self.impostor),
                                                   (Self.config("shakespeare"), Self.coordinator)]
        #expect(throws: PeerError.self) {
            try RunConfigChoice(runName: "shakespeare", joinNodes: [Self.bystander]).choose(among: configs)
        }
    }

    @Test func withoutANameTheJoinNodesRunIsTakenAmongSeveralRuns() throws {
        let configs: [RunConfigChoice.Candidate] = [(Self.config("poems"), Self.impostor), (Self.config("plays"), Self.coordinator)]
        let outcome = try RunConfigChoice(runName: nil, joinNodes: [Self.coordinator]).choose(among: configs)
        #expect(Self.chosen(outcome)?.config.name == "plays")
        #expect(throws: PeerError.self) { try RunConfigChoice(runName: nil, joinNodes: [Self.bystander]).choose(among: configs) }
    }

    @Test func aSingleSignerIsTakenAndNoConfigMeansReadingAgain() throws {
        let lone: [RunConfigChoice.Candidate] = [(Self.config("shakespeare"), Self.impostor)]
        #expect(Self.chosen(try RunConfigChoice(runName: "shakespeare", joinNodes: [Self.bystander]).choose(among: lone)) != nil)
        #expect(Self.chosen(try RunConfigChoice(runName: nil, joinNodes: []).choose(among: lone)) != nil)
        guard case .noneYet = try RunConfigChoice(runName: "shakespeare", joinNodes: []).choose(among: []) else {
            Issue.record("an empty DHT must be read again")
            return
        }
        guard case .noneYet = try RunConfigChoice(runName: "plays", joinNodes: []).choose(among: lone) else {
            Issue.record("another run's config must not be taken")
            return
        }
    }
}
