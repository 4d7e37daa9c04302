import Foundation
import Crypto
import Trainer

/// The hash a prompt-tuning run names its frozen base model by: SHA-256 over a domain string,
/// the model's shape (the LayerNorm epsilon too: it changes what the weights compute), and its
/// parameters as little-endian float32 in arena order. Context lengths are left out: they are
/// how far the model is run, not what it is.
///
/// Computed over the parameters rather than the files, so the same weights saved by Cohort or
/// by transformers (with or without the "transformer." prefix, with a tied lm_head) match.
public enum BaseModelFingerprint {
    static let domain = Array("cohort base model v1".utf8)

    /// The hash of `model`'s whole arena, as lowercase hex.
    public static func hash(of model: TransformerModel<Float>) -> String {
        hash(config: model.config, parameters: model.parameters, ranges: [0..<model.parameters.count])
    }

    /// The hash of the base a prompt-tuning model extends: its frozen elements, which are the
    /// base's arena in order. Equal to `hash(of: base)` as long as nothing frozen changed.
    public static func frozenHash(of model: TransformerModel<Float>, vocabulary: PromptVocabulary) -> String {
        precondition(model.config == vocabulary.extendedConfig, "the model is not the vocabulary's extension")
        return hash(config: vocabulary.base, parameters: model.parameters, ranges: vocabulary.frozenRanges)
    }

    private static func hash(config: ModelConfig, parameters: FlatBuffer<Float>, ranges: [Range<Int>]) -> String {
        var hasher = SHA256()
        hasher.update(data: domain)
        let shape = [config.vocabularySize, config.hiddenSize, config.layerCount, config.headCount]
        for value in shape { withUnsafeBytes(of: UInt64(value).littleEndian) { hasher.update(bufferPointer: $0) } }
        hasher.update(data: [UInt8](config.positionEncoding.rawValue.utf8))
        withUnsafeBytes(of: config.layerNormEpsilon.bitPattern.littleEndian) { hasher.update(bufferPointer: $0) }
        for range in ranges {
            hasher.update(bufferPointer: UnsafeRawBufferPointer(start: parameters.base + range.lowerBound,
                                                                count: range.count * MemoryLayout<Float>.size))
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
