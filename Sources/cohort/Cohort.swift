import ArgumentParser

@main
struct Cohort: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort",
        abstract: "Train one transformer together on volunteers' computers.",
        subcommands: [DHTCommand.self, BenchCommand.self]
    )
}
