import ArgumentParser
import Experiments
import Foundation
import Trainer

/// `cohort experiment temperature`: SGD's lr / B temperature (Bradley & Gomez-Uribe, arXiv 2108.09507).
struct TemperatureExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "temperature",
        abstract: "SGD at fixed lr/B across batch sizes and seeds; sharpness against T; where config S stays stable.",
        discussion: """
            Trains a small model on Tiny Shakespeare with plain SGD at one temperature T = lr / B for batches \
            8 to 128 and three seeds, with and without momentum (T = lr / (B (1 − μ))); measures the gradient \
            noise scale, the sharpness reached at several T, lr following a jittered batch's actual or target \
            size, and which global batches config S trains at the 4-peer run's T = 0.02. Writes results.json \
            and SVG plots into --output; progress goes to stderr. The full run took 34 minutes on two cores \
            shared with other work (about half alone), --quick under 1.
            """)

    @Flag(help: "The smoke-test variant: a smaller model, fewer batches, seeds and samples.") var quick = false
    @Option(help: "Folder for results.json and the figures.") var output: String
    @Option(help: "Redraw the figures from this folder's results.json instead of running the experiment.")
    var figuresFrom: String?
    @Option(help: "Training text (default: bundled Tiny Shakespeare).") var data: String?
    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        if output.isEmpty { throw ValidationError("--output must name a folder") }
        if figuresFrom != nil && (quick || data != nil) {
            throw ValidationError("--figures-from redraws existing results: it takes no --quick or --data")
        }
    }

    func run() throws {
        let outputURL = URL(fileURLWithPath: output)
        if let figuresFrom {
            let results = try TemperatureResults.read(from: URL(fileURLWithPath: figuresFrom))
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
        let results = try TemperatureExperiment.run(
            plan: quick ? .quick : .full, corpus: corpus, corpusName: corpusURL.lastPathComponent,
            progress: { line in FileHandle.standardError.write(Data((line + "\n").utf8)) })
        try results.write(to: outputURL)
        let figures = try results.writeFigures(to: outputURL)
        print(outputURL.appendingPathComponent(TemperatureResults.fileName).path)
        for url in figures { print(url.path) }
    }
}
