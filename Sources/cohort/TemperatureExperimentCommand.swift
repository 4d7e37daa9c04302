import ArgumentParser
import Experiments
import Foundation

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
            and SVG plots into --output; progress goes to stderr. The full run takes 14 minutes on two \
            cores, --quick under 1.
            """)

    @OptionGroup var options: ExperimentOptions

    func run() throws {
        try options.run { quick, corpus, corpusName, progress in
            try TemperatureExperiment.run(plan: quick ? .quick : .full, corpus: corpus, corpusName: corpusName, progress: progress)
        }
    }
}
