/// Where a training run's batches come from: windows of a text corpus (`TextDataset`), or the
/// rendered examples of a prompt-tuning task (`PromptTaskData`).
///
/// Rows are `time` tokens each; a target below zero is not scored.
public protocol TrainingData: Sendable {
    /// Fills tokens/targets[batch·time] with training rows drawn with `generator`.
    func fillTrainingBatch(
        tokens: UnsafeMutableBufferPointer<Int32>, targets: UnsafeMutableBufferPointer<Int32>,
        batch: Int, time: Int, generator: inout SeededGenerator)

    /// How many fixed validation rows of `time` tokens there are, at most `limit`.
    func validationWindowCount(time: Int, limit: Int) -> Int

    /// Fills rows with validation rows `first ..< first + batch` of `windowCount`.
    func fillValidationBatch(
        tokens: UnsafeMutableBufferPointer<Int32>, targets: UnsafeMutableBufferPointer<Int32>,
        first: Int, batch: Int, time: Int, windowCount: Int)
}

extension TextDataset: TrainingData {}
