import CohortBase

/// The run's state election when the run is split into shards (`RunShards`): this peer reads
/// only its own shard's announcements, and the other shards vote through their totals
/// (`ShardTotal.StateTally`), each shard weighed as it is in the run's progress.
extension VolunteerSession {
    /// A state and its votes: this shard's voters that announced it, and the other shards'.
    struct WeightedCandidate {
        var step: Int
        var hash: [UInt8]
        var votes: Double
        var donors: [StateDonor]
        /// The other shards that voted for the state, and with how many votes.
        var shards: [(shard: Int, votes: Double)] = []

        /// `shards`, most votes first (then the lower shard, so that every reader asks alike).
        var shardsByVotes: [Int] {
            shards.sorted { ($0.votes, -$0.shard) > ($1.votes, -$1.shard) }.map(\.shard)
        }
    }

    /// The states the live voters of the whole run hold (of `onlyStep` only, when given), and
    /// how many live voters the run has: this shard's ballots of live voters (this peer's own
    /// state included) and the other shards' state tallies.
    func weightedCandidates(_ ballots: [StateElection.Ballot], step onlyStep: Int?) -> (candidates: [WeightedCandidate], voters: Double) {
        let voters = liveVoters
        let weights = ProgressTracker.shardWeights(ownPeers: voters.count, totals: lastProgress.totals)
        var candidates: [WeightedCandidate] = []
        // Looked up by state, not searched: a shard's key may hold thousands of distinct claims.
        var indexOf: [StateOfStep: Int] = [:]
        func add(step: Int, hash: [UInt8], votes: Double, donor: StateDonor?, shard: Int?) {
            guard onlyStep == nil || step == onlyStep else { return }
            let index = indexOf[StateOfStep(step: step, hash: hash)] ?? {
                candidates.append(WeightedCandidate(step: step, hash: hash, votes: 0, donors: []))
                indexOf[StateOfStep(step: step, hash: hash)] = candidates.count - 1
                return candidates.count - 1
            }()
            candidates[index].votes += votes
            if let donor { candidates[index].donors.append(donor) }
            if let shard, votes > 0 { candidates[index].shards.append((shard, votes)) }
        }
        add(step: step, hash: announcedHash, votes: weights[0], donor: nil, shard: nil)
        for ballot in ballots where ballot.voter != settings.me && voters.contains(ballot.voter) {
            let announcement = ballot.announcement
            add(step: announcement.step, hash: announcement.stateHash, votes: weights[0],
                donor: announcement.servesState ? StateDonor(peer: ballot.voter, endpoint: announcement.endpoint) : nil, shard: nil)
        }
        var total = Double(voters.count) * weights[0]
        for (shardTotal, weight) in zip(lastProgress.totals, weights.dropFirst()) {
            total += Double(shardTotal.peers) * weight
            for state in shardTotal.states {
                add(step: state.step, hash: state.hash, votes: Double(state.voters) * weight, donor: nil, shard: shardTotal.shard)
            }
        }
        return (candidates, total)
    }

    private struct StateOfStep: Hashable {
        let step: Int
        let hash: [UInt8]
    }

    /// The winner among `candidates` as `StateElection.winner` picks it: most votes, then the
    /// newer step, then the smaller hash.
    static func winner(of candidates: [WeightedCandidate]) -> WeightedCandidate? {
        candidates.max { StateElection.ranksBelow(($0.votes, $0.step, $0.hash), ($1.votes, $1.step, $1.hash)) }
    }

    /// The elected state of a run of several shards; its donors are this shard's holders, or,
    /// when none here serves it, the shards to read them from.
    func shardedElectedState(_ ballots: [StateElection.Ballot], step onlyStep: Int?) -> ElectedState? {
        guard let winner = Self.winner(of: weightedCandidates(ballots, step: onlyStep).candidates) else { return nil }
        return ElectedState(step: winner.step, hash: winner.hash, voters: Int(winner.votes.rounded()), donors: winner.donors,
                            donorShards: winner.donors.isEmpty ? winner.shardsByVotes : [])
    }

    /// `strongerBranch` in a run of several shards: another branch's state held by more than half
    /// of the run's live voters, counted as `weightedCandidates` counts them.
    func shardedStrongerBranch(_ ballots: [StateElection.Ballot]) -> (state: ElectedState, ownVoters: Int)? {
        let (candidates, voters) = weightedCandidates(ballots, step: nil)
        var ownVoters = 0.0
        var otherBranches: [WeightedCandidate] = []
        for candidate in candidates {
            switch lineage.relation(ofStep: candidate.step, hash: candidate.hash) {
            case .passedThrough: ownVoters += candidate.votes
            case .anotherBranch: otherBranches.append(candidate)
            case .unknown: break
            }
        }
        guard let winner = Self.winner(of: otherBranches), 2 * winner.votes > voters,
              !winner.donors.isEmpty || !winner.shards.isEmpty else { return nil }
        let state = ElectedState(step: winner.step, hash: winner.hash, voters: Int(winner.votes.rounded()), donors: winner.donors,
                                 donorShards: winner.donors.isEmpty ? winner.shardsByVotes : [])
        return (state, Int(ownVoters.rounded()))
    }

    /// This peer and the members of its round that are in its shard now hold `new`: their votes
    /// move there from the state they left, so that this peer's shard total does not tell the
    /// other shards of the state before the round until its next read of the announcements.
    mutating func moveStateTallies(with participants: [PeerID], to new: ShardTotal.StateTally) {
        guard settings.shards.isSharded, let old = stateTallies.firstIndex(where: { $0.step == step && $0.hash == announcedHash }) else {
            return
        }
        let ownShard = settings.shards.shard(of: settings.me)
        let moved = min(stateTallies[old].voters, 1 + participants.filter { $0 != settings.me && settings.shards.shard(of: $0) == ownShard }.count)
        stateTallies[old].voters -= moved
        if let index = stateTallies.firstIndex(where: { $0.step == new.step && $0.hash == new.hash }) {
            stateTallies[index].voters += moved
        } else {
            stateTallies.append(ShardTotal.StateTally(step: new.step, hash: new.hash, voters: moved))
        }
        stateTallies = Array(stateTallies.filter { $0.voters > 0 && $0.hash.count == 32 }.sorted {
            StateElection.ranksBelow((Double($1.voters), $1.step, $1.hash), (Double($0.voters), $0.step, $0.hash))
        }.prefix(ShardTotal.maxStates))
    }

    /// Remembers what this shard's live voters hold, for this peer's shard total: the states
    /// with most voters (this peer's own included), at most `ShardTotal.maxStates`.
    mutating func tallyShardStates(_ ballots: [StateElection.Ballot]) {
        guard settings.shards.isSharded else { return }
        let voters = liveVoters
        var votes = [StateOfStep(step: step, hash: announcedHash): 1]
        for ballot in ballots where ballot.voter != settings.me && voters.contains(ballot.voter) {
            votes[StateOfStep(step: ballot.announcement.step, hash: ballot.announcement.stateHash), default: 0] += 1
        }
        let tallies = votes.map { ShardTotal.StateTally(step: $0.key.step, hash: $0.key.hash, voters: $0.value) }
        stateTallies = Array(tallies.filter { $0.hash.count == 32 }.sorted {
            StateElection.ranksBelow((Double($1.voters), $1.step, $1.hash), (Double($0.voters), $0.step, $0.hash))
        }.prefix(ShardTotal.maxStates))
    }
}
