import ArgumentParser

@main
struct Cohort: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort",
        abstract: "Train one transformer together on volunteers' computers.",
        subcommands: []
    )
}
