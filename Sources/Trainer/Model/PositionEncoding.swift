/// How the model knows where a token is.
///
/// ALiBi (Press et al., arXiv 2108.12409, §3) biases attention scores by distance and adds
/// nothing to the embeddings; it is BLOOM's layout and the default. The two absolute encodings
/// are the controls of ALiBi's extrapolation study (§4): a vector per position added to the
/// token embedding, either fixed sinusoids (Vaswani et al. §3.5) or a learned table. Models
/// with absolute positions are not BLOOM checkpoints that transformers could load.
public enum PositionEncoding: String, Codable, Sendable, CaseIterable {
    case alibi
    case sinusoidal
    case learned

    /// Whether attention scores carry ALiBi's distance bias.
    public var biasesAttention: Bool { self == .alibi }
}
