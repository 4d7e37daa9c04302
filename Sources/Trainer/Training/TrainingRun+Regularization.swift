/// Where a micro-batch's randomness comes from when regularisation is on: one seed derived from
/// the run's seed and the sequences seen before the micro-batch, so that a resumed run, or the
/// same run with another lane count, corrupts the same bytes and drops the same units.
extension TrainingRun {
    /// Corrupts the inputs of the micro-batch's first `rows` positions (targets stay clean) and
    /// returns the model noise for its forward pass; nil and untouched inputs when all is off.
    func applyInputNoise(rows: Int) -> TrainingNoise? {
        let regularization = settings.regularization
        guard regularization.isEnabled else { return nil }
        let seed = SeededGenerator.derivedSeed(settings.seed ^ Self.noiseDomain, UInt64(samplesSeen))
        if regularization.byteCorruption > 0 {
            ByteCorruption(rate: regularization.byteCorruption, vocabularySize: settings.model.vocabularySize)
                .apply(to: UnsafeMutableBufferPointer(rebasing: tokens[..<rows]), seed: SeededGenerator.derivedSeed(seed, 0))
        }
        return regularization.noise(seed: SeededGenerator.derivedSeed(seed, 1))
    }

    /// Keeps noise seeds apart from the seeds of initialisation and data order.
    private static let noiseDomain: UInt64 = 0xD80F_0A7C_4E01_5E00
}
