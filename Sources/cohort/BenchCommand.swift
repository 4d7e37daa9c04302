import ArgumentParser

/// `cohort bench`: the measurements docs quote.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Cohort's parts on this machine and print the figures.",
        subcommands: [BenchTrainCommand.self, DHTBenchCommand.self, AllReduceBenchCommand.self, AllReduceWorkerCommand.self,
                      AggregationBenchCommand.self, StateDownloadBenchCommand.self, StateDonorCommand.self]
    )
}
