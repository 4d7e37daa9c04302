import StateSync
import Collaboration
import Trainer

extension PeerSession {
    /// An update applied, kept until the announcement of the state it led to gives its hash.
    struct PendingUpdate {
        let fromStep: Int
        let hashBefore: [UInt8]
        let skipped: [Range<Int>]
        let gradients: [Float]
    }

    /// Takes the optimizer step with the gradient arena, first keeping a copy of the arena for
    /// peers that replay it, when this peer keeps updates and knows the hash of the state the
    /// step starts from (the state it announced last).
    ///
    /// A run stating a temperature steps by the round's actual samples, not its target batch:
    /// the averaged mean gradient is scaled by samples / target before it is kept, so a replay
    /// applies exactly what this peer applied.
    func applyUpdate(skipping skipped: [Range<Int>], samples: Int) {
        if let scale = config.roundGradientScale(samples: samples, localSGD: run.outer != nil) {
            let vector = run.averagingVector
            for index in 0..<vector.count { vector[index] *= scale }
        }
        if network.updates.keeps > 0, let before = announcedSnapshot, before.step == run.step {
            let gradients = Array(UnsafeBufferPointer(start: run.averagingVector.base, count: run.averagingVector.count))
            pendingUpdate = PendingUpdate(fromStep: run.step, hashBefore: before.hash, skipped: UpdateHeader.normalisedSkipped(skipped),
                                          gradients: gradients)
        }
        activity.stepsInLastRound = UInt64(run.outer == nil ? 1 : run.innerStepsInRound)
        run.applyUpdate(skipping: skipped)
    }

    /// `snapshot` is announced: the update pending since the state before it, if any, is now
    /// complete and kept.
    func keepAnnounced(_ snapshot: StateSnapshot) {
        if let pending = pendingUpdate, pending.fromStep + 1 == snapshot.step {
            let header = UpdateHeader(fromStep: pending.fromStep, hashBefore: pending.hashBefore, hashAfter: snapshot.hash,
                                      elementCount: pending.gradients.count, skipped: pending.skipped)
            network.updates.record(AppliedUpdate(header: header, gradients: pending.gradients))
        }
        pendingUpdate = nil
        announcedSnapshot = snapshot
    }

    /// Replays the updates a donor of the state `toHash` of `toStep` applied since the state
    /// `fromHash` of `fromStep`, which this peer announced and holds; on any failure the trainer
    /// is put back to that state, and the session downloads the newer one instead.
    func replay(fromStep: Int, fromHash: [UInt8], toStep: Int, toHash: [UInt8],
                donors: [VolunteerSession.StateDonor]) async -> VolunteerSession.Event {
        guard let start = announcedSnapshot, start.step == fromStep, start.hash == fromHash, run.step == fromStep else {
            return .stateReplayFailed(reason: "the trainer does not hold the announced state of step \(fromStep)")
        }
        do {
            replayedSnapshot = try await applyChain(UpdatesRequest(fromStep: fromStep, fromHash: fromHash, toStep: toStep, toHash: toHash),
                                                    donors: donors)
            return .stateLoaded(step: toStep)
        } catch {
            start.bytes.withUnsafeBytes { run.loadState(from: $0, step: fromStep) }
            return .stateReplayFailed(reason: "\(error)")
        }
    }

    /// Fetches the chain `ask` names (each gradient shared among the donors) and applies each
    /// update with the trainer's update path, so that momentum, step and learning rate move
    /// exactly as on the peers that took them; the state after each must hash to what the
    /// chain says. Returns the state reached.
    ///
    /// A state that hashes otherwise is not counted as the donor's offence: an honest donor of
    /// another build whose update arithmetic differs from this one's would cause the same, and
    /// this peer cannot tell which it is. It costs this peer the replay and a download.
    private func applyChain(_ ask: UpdatesRequest, donors: [VolunteerSession.StateDonor]) async throws(PeerError) -> StateSnapshot {
        let fetcher = UpdateFetcher(transport: network.dht.transport, logger: logger)
        let candidates: [UpdateFetcher.Donor] = donors.map { ($0.peer, $0.endpoint) }
        let (donor, chain) = try await fetcher.chain(ask, elementCount: run.averagingVector.count, donors: candidates)
        let others = candidates.filter { $0.peer != donor.peer }
        let sharing = [donor] + (await fetcher.donorsKeeping(chain, ask, elementCount: run.averagingVector.count, among: others))
        let arena = UnsafeMutableBufferPointer(start: run.averagingVector.base, count: run.averagingVector.count)
        var reached: StateSnapshot?
        for header in chain.headers {
            try await fetcher.gradients(of: header, from: sharing, into: arena)
            let gradients = network.updates.keeps > 0 ? Array(arena) : []
            run.applyUpdate(skipping: header.skipped)
            let snapshot = StateSnapshot(of: run)
            guard snapshot.hash == header.hashAfter else {
                throw PeerError("the update from step \(header.fromStep) led to another state than the donor's")
            }
            if !gradients.isEmpty { network.updates.record(AppliedUpdate(header: header, gradients: gradients)) }
            reached = snapshot
        }
        guard let reached else { preconditionFailure("a checked chain holds at least one update: \(chain)") }
        logger.info("replayed updates", metadata: ["from.step": "\(ask.fromStep)", "to.step": "\(ask.toStep)", "donor": "\(donor.peer)"])
        return reached
    }
}
