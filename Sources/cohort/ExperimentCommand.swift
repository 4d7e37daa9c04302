import ArgumentParser

/// `cohort experiment`: the studies that check the claims Cohort's trainer is built on.
struct ExperimentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Reproduce a paper's claim with Cohort's trainer; write results.json and SVG figures.",
        subcommands: [AlibiExperimentCommand.self, TemperatureExperimentCommand.self, AugRegExperimentCommand.self])
}
