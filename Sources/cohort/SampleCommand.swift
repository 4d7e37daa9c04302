import ArgumentParser
import Foundation
import Trainer

struct SampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample", abstract: "Generate text from a checkpoint.")

    @Option(help: "Checkpoint folder.") var checkpoint: String
    @Option(help: "Text to continue.") var prompt: String = "\n"
    @Option(help: "Bytes to generate.") var length: Int = 300
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Double = 0.8
    @Option(help: "Sample among the k most likely bytes.") var topK: Int = 40
    @Option(help: "Seed for sampling.") var seed: UInt64 = 1
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var deviceOptions: DeviceOptions

    func validate() throws {
        guard (1...1_000_000).contains(length) else { throw ValidationError("--length must be between 1 and 1000000") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be 0 or more") }
        guard topK >= 1 else { throw ValidationError("--top-k must be at least 1") }
    }

    func run() throws {
        threadOptions.apply()
        let model = try Checkpoint.loadModel(from: URL(fileURLWithPath: checkpoint))
        let accelerator = try deviceOptions.accelerator(for: TrainingSettings(model: model.config))
        print(try Self.generate(model: model, prompt: prompt, length: length, temperature: temperature, topK: topK, seed: seed,
                                accelerator: accelerator))
    }

    static func generate(model: TransformerModel<Float>, prompt: String, length: Int, temperature: Double, topK: Int,
                         seed: UInt64, accelerator: (any TrainingAccelerator)? = nil) throws -> String {
        let tokens = ByteTokenizer.encode(prompt)
        guard tokens.allSatisfy({ Int($0) < model.config.vocabularySize }) else {
            throw ValidationError("the prompt has bytes outside the model's vocabulary of \(model.config.vocabularySize)")
        }
        var generated: [Int32] = []
        var generator = SeededGenerator(seed: seed)
        Sampler(model: model, temperature: temperature, topK: topK, accelerator: accelerator)
            .generate(prompt: tokens, count: length, generator: &generator) { generated.append($0) }
        return prompt + ByteTokenizer.decode(generated)
    }
}
