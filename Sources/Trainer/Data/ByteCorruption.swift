/// A text augmentation for byte-level language models: each input byte is, with probability
/// `rate`, replaced by a uniformly random byte, while the targets stay the clean next bytes. The
/// model must predict through typos it cannot trust, the byte-level analogue of the input noise
/// and RandAugment of Steiner et al. ("How to train your ViT?") and of BERT's random-token
/// replacement (Devlin et al. 2019, §3.1).
public struct ByteCorruption: Sendable, Equatable {
    public let rate: Double
    public let vocabularySize: Int

    public init(rate: Double, vocabularySize: Int = 256) {
        precondition((0..<1).contains(rate) && vocabularySize > 0,
                     "byte corruption rate \(rate) must be in [0, 1) and the vocabulary (\(vocabularySize)) positive")
        self.rate = rate
        self.vocabularySize = vocabularySize
    }

    /// Corrupts `tokens` in place with draws from a generator seeded by `seed`; targets are not touched.
    public func apply(to tokens: UnsafeMutableBufferPointer<Int32>, seed: UInt64) {
        guard rate > 0 else { return }
        var generator = SeededGenerator(seed: seed)
        for index in tokens.indices where generator.nextUnit() < rate {
            tokens[index] = Int32(generator.next() % UInt64(vocabularySize))
        }
    }
}
