import ArgumentParser
@preconcurrency import Glibc
import Foundation
import Trainer

struct Cohort: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cohort",
        abstract: "Train one transformer together on volunteers' computers.",
        subcommands: [DemoCommand.self, SimulateCommand.self, TrainCommand.self, EvalCommand.self, SampleCommand.self, ExportCommand.self,
                      CoordinatorCommand.self, PeerCommand.self, TokenCommand.self, DHTCommand.self, BenchCommand.self,
                      ExperimentCommand.self,
                      InfoCommand.self, CheckGPUCommand.self]
    )
}

@main
enum Entry {
    static func main() async {
        BLASRuntime.ensureFastKernel()
        ParentWatch.stopWithParent()
        // Progress lines must reach logs and pipes as they happen, not when a buffer fills.
        setvbuf(stdout, nil, _IOLBF, 0)
        await Cohort.main()
    }
}
