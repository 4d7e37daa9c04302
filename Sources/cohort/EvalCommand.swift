import ArgumentParser
import Foundation
import Trainer

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Mean cross-entropy (nats per byte) and perplexity of a checkpoint on a text file.")

    @Option(help: "Checkpoint folder (ours, or a BLOOM folder from transformers with a byte vocabulary).")
    var checkpoint: String
    @Option(help: "Text file to score.") var data: String
    @Option(help: "Context length of each scored window (default: the trained context).") var context: Int?
    @Option(help: ArgumentHelp(
        "Slide the windows by this many bytes instead of laying them end to end (default: the context).",
        discussion: "Each byte is still scored once, by the first window that reaches it, so all but the first window's bytes see at least context − stride bytes of context."))
    var stride: Int?
    @Flag(help: "Print a JSON object.") var json = false
    @OptionGroup var threadOptions: ThreadOptions
    @OptionGroup var deviceOptions: DeviceOptions

    func run() throws {
        threadOptions.apply()
        let folder = URL(fileURLWithPath: checkpoint)
        let model = try Checkpoint.loadModel(from: folder, contextLength: context)
        let window = context ?? model.config.contextLength
        let bytes: [UInt8]
        do {
            bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: data)))
        } catch {
            throw ValidationError("cannot read --data \(data)")
        }
        let slide = stride ?? window
        let accelerator = try deviceOptions.accelerator(for: TrainingSettings(model: model.config))
        let result = try Evaluation.score(model: model, bytes: bytes, context: window, stride: slide, accelerator: accelerator)
        let perplexity = exp(result.meanLoss)
        if json {
            printJSON(["mean_loss": result.meanLoss, "perplexity": perplexity, "tokens": result.tokens,
                       "bits_per_byte": result.meanLoss / log(2), "context": window, "stride": slide, "checkpoint": checkpoint])
        } else {
            print(String(format: "%@: %.4f nats/byte (%.3f bits/byte), perplexity %.3f over %d bytes at context %d, stride %d",
                         data, result.meanLoss, result.meanLoss / log(2), perplexity, result.tokens, window, slide))
        }
    }
}
