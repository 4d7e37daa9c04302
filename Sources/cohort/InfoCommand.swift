import ArgumentParser
import Foundation
import Trainer

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info", abstract: "Show the BLAS kernel, threads and presets this machine uses.")

    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let core = BLASRuntime.coreName
        if json {
            printJSON(["blas_core": core, "blas_threads": BLASRuntime.threads,
                       "cores": ProcessInfo.processInfo.activeProcessorCount])
        } else {
            print("OpenBLAS kernel: \(core), \(BLASRuntime.threads) threads; \(ProcessInfo.processInfo.activeProcessorCount) cores")
        }
    }
}
