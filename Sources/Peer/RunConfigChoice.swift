import CohortBase
import Collaboration
import StateSync
import Wire

/// Which of the run configs read from the DHT a volunteer takes, when it pinned no coordinator
/// key: a pure value, so the rule is tested without a network.
///
/// Anybody can publish a config under any run name. Without a pinned key, the one signal the
/// volunteer chose is its join address: the node there proved its identity in the handshake,
/// and a config that node signed is the run the volunteer was invited to. So among configs of
/// the wanted run (or of any run, when no name is given), one signed by a join node wins; two
/// signers and none of them a join node leave no way to tell the coordinator from an impostor.
struct RunConfigChoice {
    typealias Candidate = (config: RunConfig, coordinator: PeerID)

    enum Outcome {
        case chosen(Candidate)
        /// Nothing to choose yet: read again.
        case noneYet(reason: String)
    }

    let runName: String?
    /// Identities of the nodes at the join addresses.
    let joinNodes: Set<PeerID>

    func choose(among configs: [Candidate]) throws -> Outcome {
        let wanted = runName.map { name in configs.filter { $0.config.name == name } } ?? configs
        let fromJoinNodes = wanted.filter { joinNodes.contains($0.coordinator) }
        if Set(fromJoinNodes.map(\.coordinator)).count == 1, let invited = fromJoinNodes.first,
           Set(fromJoinNodes.map(\.config.name)).count == 1 {
            return .chosen(invited)
        }
        if let runName {
            if Set(wanted.map(\.coordinator)).count > 1 {
                throw PeerError("\(Set(wanted.map(\.coordinator)).count) different keys publish a run named \(runName), and none "
                    + "is the node at the join address: give the coordinator's key with --coordinator-key")
            }
            if let match = wanted.first { return .chosen(match) }
            guard !configs.isEmpty else { return .noneYet(reason: "no run config is published on this DHT yet") }
            return .noneYet(reason: "no run named \(runName) (runs: \(configs.map(\.config.name).joined(separator: ", ")))")
        }
        switch configs.count {
        case 0: return .noneYet(reason: "no run config is published on this DHT yet")
        case 1: return .chosen(configs[0])
        default:
            throw PeerError("this DHT hosts several runs (\(configs.map(\.config.name).sorted().joined(separator: ", "))): choose one with --run")
        }
    }
}
