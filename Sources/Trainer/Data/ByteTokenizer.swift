/// Byte-level tokenizer: token i is byte i, so any UTF-8 text is representable and there is
/// no vocabulary file to ship or mismatch.
public enum ByteTokenizer {
    public static let vocabularySize = 256

    public static func encode(_ text: String) -> [Int32] {
        text.utf8.map { Int32($0) }
    }

    /// Decodes tokens as UTF-8, replacing invalid sequences (a sampled byte may split a character).
    public static func decode(_ tokens: [Int32]) -> String {
        let bytes = tokens.map { UInt8(clamping: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
