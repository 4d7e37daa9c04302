/// What makes a run a prompt-tuning run (DART-style, for a causal LM): the frozen base model it
/// adapts, how many prompt vectors it learns, and the task it learns them on.
///
/// Only the prompt vectors and the task's label-word embeddings train; the peers average their
/// gradients alone, a few kilobytes a round. Signed in the run config with the rest.
public struct PromptTuningSettings: Equatable, Sendable, Codable {
    /// Trainable vectors put before every example's text.
    public var promptLength: Int = 8
    /// SHA-256 (lowercase hex) of the base model's parameters, as `BaseModelFingerprint`
    /// computes it; a peer whose base differs refuses to join.
    public var baseModelHash: String
    /// The bundled task's name (`PromptTask.named`).
    public var task: String = PromptTask.shakespearePlaysName
    /// Training examples per class: the few shots every peer shares.
    public var shotsPerClass: Int = 32

    public init(baseModelHash: String) { self.baseModelHash = baseModelHash }

    /// Why these settings cannot run, or nil.
    public var problem: String? {
        if !(1...64).contains(promptLength) { return "prompt_length \(promptLength) is outside 1...64" }
        if !(1...1000).contains(shotsPerClass) { return "shots_per_class \(shotsPerClass) is outside 1...1000" }
        if baseModelHash.utf8.count != 64 || !baseModelHash.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) {
            return "base_model_hash must be 64 lowercase hex digits"
        }
        if !PromptTask.names.contains(task) {
            return "task \"\(task.prefix(64))\" is not one of \(PromptTask.names.joined(separator: ", "))"
        }
        return nil
    }
}
