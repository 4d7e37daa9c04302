import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure Cohort's speed on this machine.",
        subcommands: [BenchTrainCommand.self, DHTBenchCommand.self])
}
