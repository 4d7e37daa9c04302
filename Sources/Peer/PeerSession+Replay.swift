import StateSync
import Collaboration
import NIOConcurrencyHelpers
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
        let (chain, sharing) = try await fetcher.chainAndItsDonors(ask, elementCount: run.averagingVector.count,
                                                                  donors: donors.map { ($0.peer, $0.endpoint) })
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
        logger.info("replayed updates", metadata: ["from.step": "\(ask.fromStep)", "to.step": "\(ask.toStep)", "donor": "\(sharing[0].peer)"])
        return reached
    }
}

/// A late join (docs/protocol.md, "Update replay"): the peer averages the next round with the
/// pseudo-gradient it trained on the state before, while it fetches the update it missed into
/// the trainer's replay buffer; the run loop applies it on its own thread before a `train`.
extension PeerSession {
    /// A replay in the background: the fetch of its one update, and what the fetch brought.
    struct BackgroundReplay {
        let ask: UpdatesRequest
        let fetch: Task<Void, Never>
        let fetched: NIOLockedValueBox<Result<UpdateHeader, PeerError>?>

        var isFetched: Bool { fetched.withLockedValue { $0 != nil } }
    }

    /// Starts fetching the update `ask` names into `run.replayBuffer`; the trainer is not
    /// touched until `landBackgroundReplay`.
    func startBackgroundReplay(_ ask: UpdatesRequest, donors: [VolunteerSession.StateDonor]) {
        precondition(ask.toStep == ask.fromStep + 1, "a background replay takes one update, asked from step \(ask.fromStep) to \(ask.toStep)")
        precondition(backgroundReplay == nil,
                     "a background replay to step \(ask.toStep) while one to step \(backgroundReplay!.ask.toStep) runs")
        let fetcher = UpdateFetcher(transport: network.dht.transport, logger: logger)
        let buffer = run.replayBuffer, fetched = NIOLockedValueBox<Result<UpdateHeader, PeerError>?>(nil)
        let previous = cancelledReplayFetch, candidates: [UpdateFetcher.Donor] = donors.map { ($0.peer, $0.endpoint) }
        cancelledReplayFetch = nil
        let fetch = Task {
            await previous?.value
            let outcome: Result<UpdateHeader, PeerError>
            do throws(PeerError) {
                let (chain, sharing) = try await fetcher.chainAndItsDonors(ask, elementCount: buffer.count, donors: candidates)
                let destination = UnsafeMutableBufferPointer(start: buffer.base, count: buffer.count)
                try await fetcher.gradients(of: chain.headers[0], from: sharing, into: destination)
                outcome = .success(chain.headers[0])
            } catch {
                outcome = .failure(error)
            }
            fetched.withLockedValue { $0 = outcome }
        }
        backgroundReplay = BackgroundReplay(ask: ask, fetch: fetch, fetched: fetched)
    }

    /// Applies the fetched update beside this peer's training (`applyReplayedUpdate`) and checks
    /// the state it reaches; keeps it for this peer's own replay donors. A state that hashes
    /// otherwise is put back, the training kept, as `applyChain` explains.
    func landBackgroundReplay() -> VolunteerSession.Event {
        guard let replay = backgroundReplay, let fetched = replay.fetched.withLockedValue({ $0 }) else {
            preconditionFailure("no background replay has been fetched: \(String(describing: backgroundReplay?.ask))")
        }
        backgroundReplay = nil
        let ask = replay.ask
        let header: UpdateHeader
        switch fetched {
        case .success(let fetchedHeader): header = fetchedHeader
        case .failure(let error): return .backgroundReplayFinished(.failed(reason: "\(error)"))
        }
        guard let start = announcedSnapshot, start.step == ask.fromStep, start.hash == ask.fromHash, run.step == ask.fromStep else {
            let reason = "the trainer no longer holds the announced state of step \(ask.fromStep) (it is at step \(run.step))"
            return .backgroundReplayFinished(.failed(reason: reason))
        }
        let replayed = run.replayBuffer
        let gradients = network.updates.keeps > 0 ? Array(UnsafeBufferPointer(start: replayed.base, count: replayed.count)) : []
        run.applyReplayedUpdate(skipping: header.skipped)
        let reached = StateSnapshot(of: run)
        guard reached.step == ask.toStep, reached.hash == header.hashAfter else {
            start.bytes.withUnsafeBytes { run.loadSharedState(from: $0, step: ask.fromStep) }
            return .backgroundReplayFinished(.failed(reason: "the update from step \(ask.fromStep) led to another state than the donor's"))
        }
        if !gradients.isEmpty { network.updates.record(AppliedUpdate(header: header, gradients: gradients)) }
        replayedSnapshot = reached
        logger.info("replayed the missed update beside training", metadata: ["from.step": "\(ask.fromStep)", "to.step": "\(ask.toStep)"])
        return .backgroundReplayFinished(.landed(step: ask.toStep))
    }

    /// Drops the replay in flight, if any: its answer never comes.
    func cancelBackgroundReplay() {
        guard let replay = backgroundReplay else { return }
        replay.fetch.cancel()
        cancelledReplayFetch = replay.fetch
        backgroundReplay = nil
    }
}
