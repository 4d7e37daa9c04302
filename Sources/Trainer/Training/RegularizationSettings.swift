/// Regularisation and augmentation for small data (Steiner et al., "How to train your ViT?",
/// TMLR 2022): all off by default, and with every rate 0 training is exactly what it was.
/// The JSON object `regularization` of a settings file, snake_case keys.
public struct RegularizationSettings: Equatable, Sendable, Codable {
    /// Dropout on the embedding output and on both residual branches of every block.
    public var dropout: Double = 0
    /// Dropout on the attention probabilities.
    public var attentionDropout: Double = 0
    /// The last block's stochastic-depth drop rate; earlier blocks' rise linearly to it.
    public var stochasticDepth: Double = 0
    /// Fraction of input bytes replaced by uniformly random bytes; the targets stay the clean
    /// next bytes (`ByteCorruption`).
    public var byteCorruption: Double = 0

    public init(dropout: Double = 0, attentionDropout: Double = 0, stochasticDepth: Double = 0, byteCorruption: Double = 0) {
        self.dropout = dropout
        self.attentionDropout = attentionDropout
        self.stochasticDepth = stochasticDepth
        self.byteCorruption = byteCorruption
    }

    public var isEnabled: Bool { self != RegularizationSettings() }

    /// The model's noise for one forward pass, or nil when dropout and stochastic depth are off.
    public func noise(seed: UInt64) -> TrainingNoise? {
        let noise = TrainingNoise(dropout: dropout, attentionDropout: attentionDropout, stochasticDepth: stochasticDepth, seed: seed)
        return noise.isActive ? noise : nil
    }

    /// The first rate outside [0, 1), as a one-line message naming its key.
    var problem: String? {
        let rates = [("dropout", dropout), ("attention_dropout", attentionDropout),
                     ("stochastic_depth", stochasticDepth), ("byte_corruption", byteCorruption)]
        guard let (name, rate) = rates.first(where: { !(0..<1).contains($0.1) }) else { return nil }
        return "regularization.\(name) must be in [0, 1), got \(rate)"
    }
}

extension RegularizationSettings {
    public init(from decoder: any Decoder) throws {
        let reader = try SettingsReader(decoder, allowedKeys: ["dropout", "attentionDropout", "stochasticDepth", "byteCorruption"])
        self.init()
        dropout = try reader.value("dropout", default: dropout)
        attentionDropout = try reader.value("attentionDropout", default: attentionDropout)
        stochasticDepth = try reader.value("stochasticDepth", default: stochasticDepth)
        byteCorruption = try reader.value("byteCorruption", default: byteCorruption)
    }
}

extension RegularizationSettings {
    /// e.g. "dropout 0.1, stochastic depth 0.1, byte corruption 0.05" (the non-zero rates), or "none".
    public var summary: String {
        let rates = [("dropout", dropout), ("attention dropout", attentionDropout),
                     ("stochastic depth", stochasticDepth), ("byte corruption", byteCorruption)]
        let parts = rates.filter { $0.1 > 0 }.map { "\($0.0) \($0.1)" }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}
