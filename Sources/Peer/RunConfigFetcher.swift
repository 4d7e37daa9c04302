import CohortBase
import Collaboration
import Foundation
import Node
import StateSync
import Wire

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
    /// The addresses the volunteer joined through: a config signed by the node there is the
    /// run it was invited to (`RunConfigChoice`).
    let joinAddresses: [Endpoint]

    /// The run config, and the coordinator that signed it.
    func fetch() async throws -> (config: RunConfig, coordinator: PeerID) {
        let deadline = Date().addingTimeInterval(60)
        var lastProblem = "no run config is published on this DHT yet"
        while Date() < deadline && !stop.isStopped {
            var configs: [(config: RunConfig, coordinator: PeerID)] = []
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
            let choice = RunConfigChoice(runName: runName, joinNodes: coordinatorKey == nil ? await joinNodes() : [])
            switch try choice.choose(among: configs) {
            case .chosen(let candidate): return candidate
            case .noneYet(let reason): if !configs.isEmpty { lastProblem = reason }
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw PeerError("cannot read the run config: \(lastProblem)")
    }

    /// The identities the nodes at the join addresses proved; those that do not answer are left out.
    private func joinNodes() async -> Set<PeerID> {
        var nodes = Set<PeerID>()
        for address in joinAddresses {
            if let node = try? await network.dht.transport.identify(address).get() { nodes.insert(node) }
        }
        return nodes
    }
}
