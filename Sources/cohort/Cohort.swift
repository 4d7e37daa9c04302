import ArgumentParser
import Trainer

struct Cohort: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort",
        abstract: "Train one transformer together on volunteers' computers.",
        subcommands: [TrainCommand.self, EvalCommand.self, SampleCommand.self, BenchCommand.self, InfoCommand.self]
    )
}

@main
enum Entry {
    static func main() {
        BLASRuntime.ensureFastKernel()
        Cohort.main()
    }
}
