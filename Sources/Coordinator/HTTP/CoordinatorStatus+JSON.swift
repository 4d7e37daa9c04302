import Foundation

/// The wire form of `/api/status`: snake_case keys, and non-finite numbers as strings.
///
/// A diverged run reports a NaN or infinite loss; plain JSON has no literal for those, so they
/// are written as `"NaN"`, `"Infinity"` and `"-Infinity"` rather than failing the whole answer.
/// Clients decode with `statusJSONDecoder()`, which reads the same conventions back.
extension CoordinatorStatus {
    /// An encoder that writes the status the way `/api/status` serves it.
    public static func statusJSONEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return encoder
    }

    /// A decoder that reads what `/api/status` serves back into a status.
    public static func statusJSONDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return decoder
    }
}
