import ArgumentParser
import Experiments
import Foundation

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

    @OptionGroup var options: ExperimentOptions

    func run() throws {
        try options.run { quick, corpus, corpusName, progress in
            try AugRegExperiment.run(plan: quick ? .quick : .full, corpus: corpus, corpusName: corpusName, progress: progress)
        }
    }
}
