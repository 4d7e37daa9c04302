import ArgumentParser
import Experiments
import Foundation
import Trainer

/// `cohort experiment alibi`: train short, test long (Press et al., arXiv 2108.12409).
struct AlibiExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alibi",
        abstract: "ALiBi against sinusoidal and learned positions: train at L, score at L…16L.",
        discussion: """
            Trains ALiBi, sinusoidal and learned positions at L with the same budget, and sinusoids at 2L, \
            on Tiny Shakespeare; scores validation perplexity at L, 2L, 4L, 8L and 16L with non-overlapping and \
            half-overlapping windows; measures the memory of a config S forward pass at the longest window. \
            Writes results.json and SVG plots into --output; progress goes to stderr. The full run takes \
            15 to 30 minutes on two cores, --quick under 3.
            """)

    @Flag(help: "The smoke-test variant: a smaller model, fewer steps, less validation text.") var quick = false
    @Option(help: "Folder for results.json and the figures.") var output: String
    @Option(help: "Redraw the figures from this folder's results.json instead of running the experiment.")
    var figuresFrom: String?
    @Option(help: "Training text (default: bundled Tiny Shakespeare).") var data: String?
    @OptionGroup var threadOptions: ThreadOptions

    func run() throws {
        let outputURL = URL(fileURLWithPath: output)
        if let figuresFrom {
            let results = try AlibiResults.read(from: URL(fileURLWithPath: figuresFrom))
            for url in try results.writeFigures(to: outputURL) { print(url.path) }
            return
        }
        threadOptions.apply()
        let corpusURL = data.map { URL(fileURLWithPath: $0) } ?? BundledCorpus.url
        let corpus: [UInt8]
        do {
            corpus = [UInt8](try Data(contentsOf: corpusURL))
        } catch {
            throw ValidationError("cannot read --data \(corpusURL.path)")
        }
        let results = try AlibiExperiment.run(
            plan: quick ? .quick : .full, corpus: corpus, corpusName: corpusURL.lastPathComponent,
            progress: { line in FileHandle.standardError.write(Data((line + "\n").utf8)) })
        try results.write(to: outputURL)
        let figures = try results.writeFigures(to: outputURL)
        print(outputURL.appendingPathComponent(AlibiResults.fileName).path)
        for url in figures { print(url.path) }
    }
}
