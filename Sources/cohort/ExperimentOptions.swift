import ArgumentParser
import Experiments
import Foundation

/// The options every `cohort experiment` study takes, and the steps they share: read the text,
/// run the study (or read earlier results back), write results.json and the figures, print the
/// files written and the study's summary.
struct ExperimentOptions: ParsableArguments {
    @Flag(help: "The smoke-test variant: a smaller model and a shorter study (a few minutes at most).") var quick = false
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

    /// `study(quick, corpus, corpusName, progress)` runs the experiment.
    func run<Results: ExperimentResults>(
        _ study: (_ quick: Bool, _ corpus: [UInt8], _ corpusName: String, _ progress: (String) -> Void) throws -> Results
    ) throws {
        let outputURL = URL(fileURLWithPath: output)
        let results: Results
        if let figuresFrom {
            results = try Results.read(from: URL(fileURLWithPath: figuresFrom))
        } else {
            threadOptions.apply()
            let corpusURL = data.map { URL(fileURLWithPath: $0) } ?? BundledCorpus.url
            let corpus: [UInt8]
            do {
                corpus = [UInt8](try Data(contentsOf: corpusURL))
            } catch {
                throw ValidationError("cannot read --data \(corpusURL.path)")
            }
            results = try study(quick, corpus, corpusURL.lastPathComponent) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
            try results.write(to: outputURL)
            print(outputURL.appendingPathComponent(Results.fileName).path)
        }
        for url in try results.writeFigures(to: outputURL) { print(url.path) }
        if !results.summary.isEmpty { print(results.summary) }
    }
}
