import ArgumentParser
import Collaboration
import Coordinator
import DHT
import Foundation
import Node

/// Where the run's key is: the coordinator's identity file, found as the coordinator finds it.
struct RunKeyOptions: ParsableArguments {
    @Option(help: "Run name, as given to cohort coordinator --run.") var run: String
    @Option(help: "The coordinator's state folder (default: runs/NAME).") var stateDir: String?
    @Option(help: "The coordinator's identity file, the run key (default: STATE_DIR/identity).") var identity: String?

    func validate() throws {
        guard RunConfig.isValidName(run) else {
            throw ValidationError("--run \"\(run)\" must be 1–64 letters, digits, '-', '_' or '.'")
        }
    }

    var stateDirectory: URL { URL(fileURLWithPath: stateDir ?? "runs/\(run)") }

    /// The run key; never created here, since tokens from a new key would admit to no run.
    func loadRunKey() throws -> PeerIdentity {
        let path = RunCoordinator.identityPath(in: stateDirectory, override: identity)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("no run key at \(path): start the coordinator once (it creates it), or give --state-dir or --identity")
        }
        return try IdentityFile.load(at: path)
    }
}

/// A lifetime such as "30d", "12h", "90m" or "45s".
enum Lifetime {
    static let maxDays: UInt64 = 3650

    static func duration(parsing text: String, option: String) throws -> Duration {
        let units: [Character: UInt64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        // The count is checked against the bound before it is multiplied, so that no count overflows.
        guard let unit = text.last.flatMap({ units[$0] }), let count = UInt64(text.dropLast()), count > 0,
              count <= maxDays * 86_400 / unit else {
            throw ValidationError("\(option) must be a positive number followed by s, m, h or d, at most \(maxDays)d (e.g. 30d); got \"\(text)\"")
        }
        return .seconds(Int64(count * unit))
    }
}
