import ArgumentParser
import Experiments
import Foundation

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

    @OptionGroup var options: ExperimentOptions

    func run() throws {
        try options.run { quick, corpus, corpusName, progress in
            try AlibiExperiment.run(plan: quick ? .quick : .full, corpus: corpus, corpusName: corpusName, progress: progress)
        }
    }
}
