import Wire

/// Why an access token, a revocation list or one of their files cannot be used.
///
/// One line that names the input and what is wrong with it, e.g. "access token: name is 80
/// bytes, more than 64".
public struct AdmissionError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }

    /// The same error with `context` in front ("token file alice.token: …").
    func prefixed(_ context: String) -> AdmissionError {
        AdmissionError("\(context): \(description)")
    }
}

/// Runs a decoding step and turns a `WireError` into an `AdmissionError` about `what`.
func decodingField<T>(_ what: String, _ step: () throws(WireError) -> T) throws(AdmissionError) -> T {
    do {
        return try step()
    } catch {
        throw AdmissionError("\(what): \(error.detail.isEmpty ? "\(error)" : error.detail)")
    }
}
