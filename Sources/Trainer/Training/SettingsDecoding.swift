/// Decoding of settings files where every key is optional (defaults apply) and an unknown key
/// is an error, so a typo in a config file is reported instead of silently ignored.
struct AnyCodingKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

struct SettingsReader {
    let container: KeyedDecodingContainer<AnyCodingKey>

    init(_ decoder: any Decoder, allowedKeys: [String]) throws {
        container = try decoder.container(keyedBy: AnyCodingKey.self)
        // Keys arrive converted from snake_case; compare against the Swift property names.
        if let unknown = container.allKeys.first(where: { !allowedKeys.contains($0.stringValue) }) {
            throw DecodingError.dataCorruptedError(
                forKey: unknown, in: container, debugDescription: "unknown setting")
        }
    }

    func value<T: Decodable>(_ key: String, default fallback: T) throws -> T {
        try container.decodeIfPresent(T.self, forKey: AnyCodingKey(key)) ?? fallback
    }

    func optional<T: Decodable>(_ key: String) throws -> T? {
        try container.decodeIfPresent(T.self, forKey: AnyCodingKey(key))
    }

    func required<T: Decodable>(_ key: String) throws -> T {
        try container.decode(T.self, forKey: AnyCodingKey(key))
    }
}

extension TrainingSettings {
    public init(from decoder: any Decoder) throws {
        let reader = try SettingsReader(decoder, allowedKeys: [
            "model", "batchSize", "microBatchSize", "learningRate", "temperature", "warmupSteps", "steps",
            "floorFraction", "sgd", "seed", "validationInterval", "validationWindows", "validationFraction",
            "checkpointInterval", "regularization",
        ])
        self.init(model: try reader.value("model", default: .small))
        batchSize = try reader.value("batchSize", default: batchSize)
        microBatchSize = try reader.optional("microBatchSize")
        learningRate = try reader.optional("learningRate")
        temperature = try reader.optional("temperature")
        warmupSteps = try reader.value("warmupSteps", default: warmupSteps)
        steps = try reader.value("steps", default: steps)
        floorFraction = try reader.value("floorFraction", default: floorFraction)
        sgd = try reader.value("sgd", default: sgd)
        seed = try reader.value("seed", default: seed)
        validationInterval = try reader.value("validationInterval", default: validationInterval)
        validationWindows = try reader.value("validationWindows", default: validationWindows)
        validationFraction = try reader.value("validationFraction", default: validationFraction)
        checkpointInterval = try reader.value("checkpointInterval", default: checkpointInterval)
        regularization = try reader.value("regularization", default: regularization)
    }
}

extension SGDSettings {
    public init(from decoder: any Decoder) throws {
        let reader = try SettingsReader(decoder, allowedKeys: ["momentum", "nesterov", "weightDecay", "gradientClipNorm"])
        self.init()
        momentum = try reader.value("momentum", default: momentum)
        nesterov = try reader.value("nesterov", default: nesterov)
        weightDecay = try reader.value("weightDecay", default: weightDecay)
        gradientClipNorm = try reader.value("gradientClipNorm", default: gradientClipNorm)
    }
}

extension ModelConfig {
    public init(from decoder: any Decoder) throws {
        let reader = try SettingsReader(decoder, allowedKeys: [
            "vocabularySize", "hiddenSize", "layerCount", "headCount", "contextLength", "maxContextLength", "layerNormEpsilon",
            "positionEncoding",
        ])
        let context: Int = try reader.required("contextLength")
        self.init(
            vocabularySize: try reader.value("vocabularySize", default: 256),
            hiddenSize: try reader.required("hiddenSize"),
            layerCount: try reader.required("layerCount"),
            headCount: try reader.required("headCount"),
            contextLength: context,
            maxContextLength: try reader.optional("maxContextLength"),
            layerNormEpsilon: try reader.value("layerNormEpsilon", default: 1e-5))
        positionEncoding = try reader.value("positionEncoding", default: .alibi)
    }
}
