import ArgumentParser

/// `cohort bench`: the measurements docs quote.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Cohort's parts and print the figures.",
        subcommands: [DHTBenchCommand.self]
    )
}
