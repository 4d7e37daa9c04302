import Foundation

/// Reads and writes transformers' `config.json` for BLOOM models.
///
/// Cohort's own fields (trained and maximum context, position encoding) ride along under
/// `cohort_*` keys, which transformers keeps as plain attributes, so the same file serves both.
/// A file without `cohort_position_encoding` (older Cohort checkpoints, transformers' BLOOM) is ALiBi.
public enum BloomConfigFile {
    public static func encode(_ config: ModelConfig) throws -> Data {
        let object: [String: Any] = [
            "architectures": ["BloomForCausalLM"],
            "model_type": "bloom",
            "vocab_size": config.vocabularySize,
            "hidden_size": config.hiddenSize,
            "n_layer": config.layerCount,
            "n_head": config.headCount,
            "layer_norm_epsilon": config.layerNormEpsilon,
            "initializer_range": 0.02,
            "apply_residual_connection_post_layernorm": false,
            "hidden_dropout": 0.0,
            "attention_dropout": 0.0,
            "tie_word_embeddings": true,
            "use_cache": true,
            "bos_token_id": 2,
            "eos_token_id": 3,
            "pad_token_id": 0,
            "torch_dtype": "float32",
            "cohort_context_length": config.contextLength,
            "cohort_max_context_length": config.maxContextLength,
            "cohort_position_encoding": config.positionEncoding.rawValue,
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    }

    /// Parses and validates a config.json; errors name the file and the field.
    public static func decode(_ data: Data, url: URL) throws -> ModelConfig {
        func fail(_ reason: String) -> ModelConfigError { ModelConfigError(message: "\(url.path): \(reason)") }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw fail("is not a JSON object")
        }
        if let type = object["model_type"] as? String, type != "bloom" {
            throw fail("model_type \"\(type)\" is not supported (only \"bloom\")")
        }
        if object["apply_residual_connection_post_layernorm"] as? Bool == true {
            throw fail("apply_residual_connection_post_layernorm = true is not supported")
        }
        func integer(_ keys: [String], default fallback: Int? = nil) throws -> Int {
            for key in keys {
                if let value = object[key] {
                    guard let number = value as? NSNumber, let exact = Int(exactly: number.doubleValue) else {
                        throw fail("\(key) is not an integer")
                    }
                    return exact
                }
            }
            guard let fallback else { throw fail("missing \(keys[0])") }
            return fallback
        }
        let context = try integer(["cohort_context_length", "seq_length"], default: 2048)
        var config = ModelConfig(
            vocabularySize: try integer(["vocab_size"]),
            hiddenSize: try integer(["hidden_size", "n_embed"]),
            layerCount: try integer(["n_layer", "num_hidden_layers"]),
            headCount: try integer(["n_head", "num_attention_heads"]),
            contextLength: context,
            maxContextLength: try integer(["cohort_max_context_length"], default: max(context, 8192)),
            layerNormEpsilon: (object["layer_norm_epsilon"] as? NSNumber)?.doubleValue ?? 1e-5)
        config.positionEncoding = try positionEncoding(object["cohort_position_encoding"], fail: fail)
        do {
            try config.validate()
        } catch let error as ModelConfigError {
            throw fail(error.message)
        }
        return config
    }

    private static func positionEncoding(_ value: Any?, fail: (String) -> ModelConfigError) throws -> PositionEncoding {
        guard let value else { return .alibi }
        guard let name = value as? String, let encoding = PositionEncoding(rawValue: name) else {
            let known = PositionEncoding.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail("cohort_position_encoding \(value) is not one of \(known)")
        }
        return encoding
    }
}
