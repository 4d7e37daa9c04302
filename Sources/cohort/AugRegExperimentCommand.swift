import ArgumentParser
import Experiments
import Foundation
import Trainer

/// `cohort experiment augreg`: regularisation and augmentation for small data (Steiner et al.,
/// "How to train your ViT?").
struct AugRegExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "augreg",
        abstract: "Regularisation for small data: 10/30/100 % of the training text, with and without, at 1× and 3× compute.",
        discussion: """
            Trains one model shape on the first 10 %, 30 % and 100 % of Tiny Shakespeare's training split, \
            plain and regularised (dropout 0.1, stochastic depth 0.1, byte corruption 0.05), for the base \
            number of steps and three times as many, and scores all twelve on the same held-out split. \
            Writes results.json and SVG plots into --output and prints the data-vs-compute grid; progress \
            goes to stderr. The full run takes about 25 minutes on two cores, --quick under 3.
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
            let results = try AugRegResults.read(from: URL(fileURLWithPath: figuresFrom))
            for url in try results.writeFigures(to: outputURL) { print(url.path) }
            print(results.gridTable)
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
        let results = try AugRegExperiment.run(
            plan: quick ? .quick : .full, corpus: corpus, corpusName: corpusURL.lastPathComponent,
            progress: { line in FileHandle.standardError.write(Data((line + "\n").utf8)) })
        try results.write(to: outputURL)
        let figures = try results.writeFigures(to: outputURL)
        print(outputURL.appendingPathComponent(AugRegResults.fileName).path)
        for url in figures { print(url.path) }
        print(results.gridTable)
        print(String(format: "total %.1f min", results.totalSeconds / 60))
    }
}
