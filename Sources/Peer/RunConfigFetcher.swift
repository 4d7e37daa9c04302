import Collaboration
import Wire
import Foundation

/// Reads the coordinator's signed run config from the DHT and checks it.
///
/// The DHT record's owner signed the record, and the config inside carries the coordinator's
/// own signature: the two keys must be the same, so a peer cannot publish a config in the
/// coordinator's name.
struct RunConfigFetcher {
    let network: RunNetwork
    let runName: String?
    /// The coordinator's public key, when the volunteer pinned it: configs signed by any other
    /// key are ignored, so nobody can publish a run in the coordinator's name.
    let coordinatorKey: [UInt8]?
    let stop: StopSignal

    /// The run config, and the coordinator that signed it.
    func fetch() async throws -> (config: RunConfig, coordinator: DHTID) {
        let deadline = Date().addingTimeInterval(60)
        var lastProblem = "no run config is published on this DHT yet"
        while Date() < deadline && !stop.isStopped {
            var configs: [(config: RunConfig, coordinator: DHTID)] = []
            for record in await network.records(RunKeys.runs) {
                do {
                    let signed = try SignedRunConfig(decoding: record.value)
                    if let coordinatorKey, coordinatorKey != record.ownerPublicKey {
                        lastProblem = "a run config on the DHT is signed by another key than the pinned coordinator's"
                        continue
                    }
                    configs.append((try signed.verifiedConfig(expectedCoordinator: record.ownerPublicKey), record.ownerID))
                } catch {
                    lastProblem = "\(error)"
                }
            }
            if let runName {
                let matches = configs.filter { $0.config.name == runName }
                // Without a pinned key, two keys publishing one run name leave no way to tell the
                // coordinator from an impostor: refuse rather than pick one.
                if Set(matches.map(\.coordinator)).count > 1 {
                    throw PeerError("\(matches.count) different keys publish a run named \(runName): give the coordinator's with --coordinator-key")
                }
                if let match = matches.first { return match }
                if !configs.isEmpty { lastProblem = "no run named \(runName) (runs: \(configs.map(\.config.name).joined(separator: ", ")))" }
            } else if configs.count == 1 {
                return configs[0]
            } else if configs.count > 1 {
                throw PeerError("this DHT hosts several runs (\(configs.map(\.config.name).sorted().joined(separator: ", "))): choose one with --run")
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw PeerError("cannot read the run config: \(lastProblem)")
    }
}
