/// The shape of a BLOOM-architecture transformer: what `config.json` describes.
public struct ModelConfig: Equatable, Sendable, Codable {
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    /// The context length the model is trained at.
    public var contextLength: Int
    /// The longest context attention may run at; ALiBi lets it exceed the trained length (ALiBi §4).
    public var maxContextLength: Int
    public var layerNormEpsilon: Double
    /// Set after `init` (default ALiBi), so that the BLOOM shape stays the initialiser's subject.
    public var positionEncoding: PositionEncoding = .alibi

    public init(
        vocabularySize: Int = 256, hiddenSize: Int, layerCount: Int, headCount: Int,
        contextLength: Int, maxContextLength: Int? = nil, layerNormEpsilon: Double = 1e-5
    ) {
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.contextLength = contextLength
        self.maxContextLength = maxContextLength ?? contextLength * 4
        self.layerNormEpsilon = layerNormEpsilon
    }

    public var headDimension: Int { hiddenSize / headCount }

    /// The longest sequence the model can run: a learned position table has a row only for each
    /// position it was trained at, while ALiBi and sinusoids extend to any length.
    public var longestSequence: Int { positionEncoding == .learned ? contextLength : maxContextLength }

    /// Throws a `ModelConfigError` naming the first field that is out of range.
    public func validate() throws {
        func require(_ condition: Bool, _ message: String) throws {
            if !condition { throw ModelConfigError(message: message) }
        }
        try require((1...1 << 20).contains(vocabularySize), "vocab_size \(vocabularySize) is outside 1...1048576")
        try require((1...1 << 16).contains(hiddenSize), "hidden_size \(hiddenSize) is outside 1...65536")
        try require((1...1024).contains(layerCount), "n_layer \(layerCount) is outside 1...1024")
        try require((1...1024).contains(headCount), "n_head \(headCount) is outside 1...1024")
        try require(hiddenSize % headCount == 0, "hidden_size \(hiddenSize) is not divisible by n_head \(headCount)")
        try require((1...1 << 16).contains(contextLength), "context length \(contextLength) is outside 1...65536")
        try require(
            (contextLength...1 << 16).contains(maxContextLength),
            "max context length \(maxContextLength) must be between the context length \(contextLength) and 65536")
        try require(layerNormEpsilon > 0 && layerNormEpsilon < 1, "layer_norm_epsilon \(layerNormEpsilon) must be in (0, 1)")
    }

    /// Parameters in the flat arena.
    public var parameterCount: Int { ParameterLayout(config: self).parameterCount }

    /// Config S of the benchmarks: a model that trains in minutes on two cores.
    public static let small = ModelConfig(hiddenSize: 256, layerCount: 4, headCount: 4, contextLength: 128)
    /// Config M of the benchmarks.
    public static let medium = ModelConfig(hiddenSize: 512, layerCount: 6, headCount: 8, contextLength: 256)
    /// Config L of the GPU benchmarks: ~300 M parameters, context 1,024.
    public static let large = ModelConfig(hiddenSize: 1024, layerCount: 24, headCount: 16, contextLength: 1024)
}

public struct ModelConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}
