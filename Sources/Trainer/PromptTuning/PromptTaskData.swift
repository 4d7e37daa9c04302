/// A prompt-tuning task as a run's data: training rows are shots drawn at random, validation
/// rows the held-out examples in order, each rendered through the template.
public struct PromptTaskData: TrainingData {
    public let task: PromptTask
    public let template: PromptTemplate

    /// Throws when an example would not fit a row of `time` tokens.
    public init(task: PromptTask, template: PromptTemplate, time: Int) throws {
        precondition(template.labelTokens.count == task.labelWords.count, "one label token per class")
        let longest = (task.training + task.test).map { template.length(of: $0.text) }.max() ?? 0
        guard longest <= time else {
            throw PromptTask.Error(description: "task \(task.name): an example takes \(longest) tokens with the template, the model's rows hold \(time)")
        }
        self.task = task
        self.template = template
    }

    public func fillTrainingBatch(tokens: UnsafeMutableBufferPointer<Int32>, targets: UnsafeMutableBufferPointer<Int32>,
                                  batch: Int, time: Int, generator: inout SeededGenerator) {
        for row in 0..<batch {
            let example = task.training[Int(generator.next() % UInt64(task.training.count))]
            template.render(example, row: row, time: time, tokens: tokens, targets: targets)
        }
    }

    public func validationWindowCount(time: Int, limit: Int) -> Int { min(limit, task.test.count) }

    public func fillValidationBatch(tokens: UnsafeMutableBufferPointer<Int32>, targets: UnsafeMutableBufferPointer<Int32>,
                                    first: Int, batch: Int, time: Int, windowCount: Int) {
        for row in 0..<batch {
            template.render(task.test[first + row], row: row, time: time, tokens: tokens, targets: targets)
        }
    }
}
