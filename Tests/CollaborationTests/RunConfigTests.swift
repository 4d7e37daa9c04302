import Averaging
import Crypto
import Foundation
import Testing
import Trainer
@testable import Collaboration

@Suite struct RunConfigTests {
    static func config() -> RunConfig {
        var training = TrainingSettings(model: ModelConfig(hiddenSize: 32, layerCount: 1, headCount: 2, contextLength: 16))
        training.batchSize = 4
        training.temperature = 0.001
        return RunConfig(name: "shakespeare", training: training, targetBatchSize: 64)
    }

    @Test func signedConfigVerifiesAndRoundTrips() throws {
        let key = Curve25519.Signing.PrivateKey()
        let signed = try SignedRunConfig(config: Self.config(), signingKey: key)
        let decoded = try SignedRunConfig(decoding: signed.encoded)
        let config = try decoded.verifiedConfig(expectedCoordinator: Array(key.publicKey.rawRepresentation))
        #expect(config == Self.config())
        #expect(config.peakLearningRate == 0.064)
    }

    /// The warning follows the target batch, the run's global batch, not a peer's micro-batch.
    @Test func aTemperaturePastTheMeasuredRangeIsWarnedAboutWithTheTargetBatch() throws {
        var config = Self.config()
        config.training.temperature = 0.02
        config.targetBatchSize = 24
        #expect(config.temperatureWarning == nil)
        config.targetBatchSize = 64
        let warning = try #require(config.temperatureWarning)
        #expect(warning.hasPrefix("temperature 0.02 × target batch 64 gives peak lr 1.28 with momentum 0.9"))
        (config.training.learningRate, config.training.temperature) = (1.28, nil)
        #expect(config.temperatureWarning == nil)
    }

    /// lr = T × the round's actual samples: the mean gradient is scaled by samples / target, only
    /// for a run that states a temperature and averages gradients every step.
    @Test func aRoundStepsByItsActualSamplesUnderATemperature() {
        var config = Self.config()
        #expect(config.roundGradientScale(samples: 80, localSGD: false) == 1.25)
        #expect(config.roundGradientScale(samples: 48, localSGD: false) == 0.75)
        #expect(config.roundGradientScale(samples: 64, localSGD: false) == nil)
        #expect(config.roundGradientScale(samples: 64 * 50, localSGD: false) == 2, "declared samples raise the rate at most twofold")
        #expect(config.roundGradientScale(samples: 80, localSGD: true) == nil)
        (config.training.learningRate, config.training.temperature) = (0.1, nil)
        #expect(config.roundGradientScale(samples: 80, localSGD: false) == nil)
    }

    @Test func tamperedOrForeignConfigsAreRefused() throws {
        let key = Curve25519.Signing.PrivateKey()
        var bytes = try SignedRunConfig(config: Self.config(), signingKey: key).encoded
        bytes[bytes.count - 3] ^= 1
        #expect(throws: RunConfig.Error.self) { try SignedRunConfig(decoding: bytes).verifiedConfig() }
        let other = try SignedRunConfig(config: Self.config(), signingKey: Curve25519.Signing.PrivateKey())
        #expect(throws: RunConfig.Error.self) {
            try other.verifiedConfig(expectedCoordinator: Array(key.publicKey.rawRepresentation))
        }
        #expect(throws: RunConfig.Error.self) { try SignedRunConfig(decoding: [1, 2, 3]) }
    }

    @Test func invalidConfigsAreRefusedBeforeSigning() {
        var config = Self.config()
        config.name = "bad name!"
        #expect(throws: RunConfig.Error.self) { try SignedRunConfig(config: config, signingKey: Curve25519.Signing.PrivateKey()) }
        config = Self.config()
        config.targetBatchSize = 2
        #expect(throws: RunConfig.Error.self) { try config.validate() }
    }

    @Test func aggregationTravelsInTheSignedConfigAsItsTextForm() throws {
        var config = Self.config()
        config.aggregation = .centeredClip(tau: 2, iterations: 4)
        let signed = try SignedRunConfig(config: config, signingKey: Curve25519.Signing.PrivateKey())
        #expect(String(decoding: signed.configBytes, as: UTF8.self).contains(#""aggregation":"centered-clip:tau=2.0,iterations=4""#))
        #expect(try signed.verifiedConfig().aggregation == .centeredClip(tau: 2, iterations: 4))
    }

    @Test func aConfigWrittenBeforeAggregationExistedDecodesWithTheMean() throws {
        var json = try JSONSerialization.jsonObject(with: Data(Self.config().canonicalBytes())) as! [String: Any]
        json["aggregation"] = nil
        json["dataset"] = nil
        let bytes = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        let config = try RunConfig.decode(Array(bytes))
        #expect(config.aggregation == .mean)
        #expect(config.dataset == RunConfig.bundledDataset)
    }

    @Test func localSGDTravelsInTheSignedConfigAndOlderConfigsAverageEveryStep() throws {
        var config = Self.config()
        config.localSGD = LocalSGDSettings(localSteps: 16, outerLearningRate: 0.5, outerMomentum: 0.8)
        let signed = try SignedRunConfig(config: config, signingKey: Curve25519.Signing.PrivateKey())
        #expect(String(decoding: signed.configBytes, as: UTF8.self)
            .contains(#""local_sgd":{"local_steps":16,"outer_learning_rate":0.5,"outer_momentum":0.8}"#))
        let verified = try signed.verifiedConfig()
        #expect(verified.localSGD == config.localSGD)
        #expect(verified.samplesPerRound == 16 * 64)

        var json = try JSONSerialization.jsonObject(with: Data(Self.config().canonicalBytes())) as! [String: Any]
        json["local_sgd"] = nil
        let older = try RunConfig.decode(Array(try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])))
        #expect(older.localSGD == LocalSGDSettings() && older.samplesPerRound == 64)
        json["local_sgd"] = ["local_steps": 4]
        let partial = try RunConfig.decode(Array(try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])))
        #expect(partial.localSGD == LocalSGDSettings(localSteps: 4))
    }

    @Test func shardsTravelInTheSignedConfigOnlyWhenThereAreSeveral() throws {
        let single = String(decoding: try Self.config().canonicalBytes(), as: UTF8.self)
        #expect(!single.contains("shards"), "a config of one shard reads as before shards")
        var config = Self.config()
        config.shards = try RunShards(count: 64)
        let signed = try SignedRunConfig(config: config, signingKey: Curve25519.Signing.PrivateKey())
        #expect(String(decoding: signed.configBytes, as: UTF8.self).contains(#""shards":64"#))
        #expect(try signed.verifiedConfig().shards.count == 64)
        let three = Array(single.replacingOccurrences(of: #""name":"#, with: #""shards":3,"name":"#).utf8)
        #expect(throws: RunConfig.Error.self) { try RunConfig.decode(three) }
        #expect(try RunConfig.decode(Array(single.utf8)).shards == .one)
    }

    @Test func streamingFragmentsTravelInTheSignedConfigAndMustDivideTheLocalSteps() throws {
        var config = Self.config()
        config.localSGD = LocalSGDSettings(localSteps: 16, outerLearningRate: 0.5, outerMomentum: 0.8, fragments: 4)
        let signed = try SignedRunConfig(config: config, signingKey: Curve25519.Signing.PrivateKey())
        #expect(String(decoding: signed.configBytes, as: UTF8.self)
            .contains(#""local_sgd":{"fragments":4,"local_steps":16,"outer_learning_rate":0.5,"outer_momentum":0.8}"#))
        let verified = try signed.verifiedConfig()
        #expect(verified.localSGD == config.localSGD)
        #expect(verified.samplesPerRound == 4 * 64, "a round every 16 ÷ 4 target batches")
        config.localSGD.fragments = 3
        #expect(throws: RunConfig.Error(description: "run config: local_sgd: fragments must divide local_steps (16), got 3")) {
            try config.validate()
        }
        config.localSGD.fragments = 0
        #expect(throws: RunConfig.Error.self) { try config.validate() }
    }

    @Test func errorFeedbackTravelsInTheSignedConfigNeedsACodecAndOlderConfigsGoWithout() throws {
        var config = Self.config()
        config.errorFeedback = true
        #expect(throws: RunConfig.Error(description: "run config: error_feedback needs a compression (float16 or int8)")) {
            try config.validate()
        }
        config.compression = .int8
        let signed = try SignedRunConfig(config: config, signingKey: Curve25519.Signing.PrivateKey())
        #expect(String(decoding: signed.configBytes, as: UTF8.self).contains(#""error_feedback":true"#))
        #expect(try signed.verifiedConfig().errorFeedback)

        var json = try JSONSerialization.jsonObject(with: Data(Self.config().canonicalBytes())) as! [String: Any]
        json["error_feedback"] = nil
        #expect(try !RunConfig.decode(Array(try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]))).errorFeedback)
    }

    @Test func localSGDSettingsOutOfRangeAreRefusedWithTheReason() {
        for (settings, reason) in [
            (LocalSGDSettings(localSteps: 0), "local_steps must be in 1...100000, got 0"),
            (LocalSGDSettings(localSteps: 4, outerLearningRate: .nan), "outer_learning_rate must be in (0, 10], got nan"),
            (LocalSGDSettings(localSteps: 4, outerMomentum: 1), "outer_momentum must be in [0, 1), got 1.0"),
        ] {
            var config = Self.config()
            config.localSGD = settings
            #expect(throws: RunConfig.Error(description: "run config: local_sgd: \(reason)")) { try config.validate() }
        }
    }

    @Test func badAggregationsAreRefusedWithTheReason() throws {
        var config = Self.config()
        config.aggregation = .trimmedMean(fraction: 0.7)
        #expect(throws: RunConfig.Error(description: "run config: aggregation: trim fraction 0.7 must be above 0 and below 0.5")) {
            try config.validate()
        }
        var text = String(decoding: try Self.config().canonicalBytes(), as: UTF8.self)
        text = text.replacingOccurrences(of: #""aggregation":"mean""#, with: #""aggregation":"median""#)
        #expect {
            try RunConfig.decode(Array(text.utf8))
        } throws: { error in
            "\(error)".contains("aggregation \"median\" is not mean, trimmed-mean or centered-clip")
        }
    }
}
