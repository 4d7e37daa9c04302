import Testing
@testable import Trainer

/// The warning for temperatures and batches past where config S was measured to train
/// (`cohort experiment temperature`, docs/science.md).
@Suite struct TemperatureRangeTests {
    static func settings(temperature: Double, batch: Int) -> TrainingSettings {
        var settings = TrainingSettings(model: .small)
        settings.batchSize = batch
        settings.microBatchSize = 8
        settings.temperature = temperature
        return settings
    }

    @Test func theFourPeerRunThatDivergedIsWarnedAboutAndTheDemoIsNot() throws {
        // T = 0.02: target batch 24 (the demo) trained, 64 (lr 1.28, momentum 0.9) did not.
        #expect(Self.settings(temperature: 0.02, batch: 24).temperatureWarning == nil)
        let warning = try #require(Self.settings(temperature: 0.02, batch: 64).temperatureWarning)
        let largest = Int((TemperatureRange.largestStableRate / 0.02).rounded(.down))
        #expect(warning.contains("temperature 0.02 × batch 64 gives peak lr 1.28 with momentum 0.9"))
        #expect(warning.contains("keep the batch at most \(largest)") && !warning.contains("\n"))
    }

    @Test func theLimitIsARateThatMomentumMoves() {
        #expect(TemperatureRange.largestStableRate < TemperatureRange.smallestUnstableRate)
        #expect(TemperatureRange.largestStableRate(momentum: 0.9) == TemperatureRange.largestStableRate)
        #expect(abs(TemperatureRange.largestStableRate(momentum: 0) - TemperatureRange.largestStableRate / 1.9) < 1e-12)
        let atEdge = TemperatureRange.largestStableRate / 0.01
        #expect(TemperatureRange.warning(temperature: 0.01, batch: Int(atEdge.rounded(.down)), momentum: 0.9, batchName: "batch") == nil)
        #expect(TemperatureRange.warning(temperature: 0.01, batch: Int(atEdge.rounded(.down)) + 1, momentum: 0.9, batchName: "batch") != nil)
    }

    @Test func anExplicitLearningRateIsNotReadAsATemperature() {
        var settings = Self.settings(temperature: 0.02, batch: 64)
        (settings.learningRate, settings.temperature) = (5, nil)
        #expect(settings.temperatureWarning == nil)
    }
}
