import Averaging
import Collaboration
import DHT
import Foundation
import NIOCore
import Node
import Wire

extension PeerSession {
    /// Downloads the state the run's peers elect (`StateElection`), unless this peer already
    /// has it. Without `force`, a run nobody has stepped yet starts from the shared initial
    /// state. When no elected state can be had (every peer that trained the run has left,
    /// though their announcements linger) and the coordinator serves a newer checkpoint, the
    /// run goes on from the checkpoint.
    func catchUp(force: Bool) async throws {
        var attempted = false
        if let elected = await electedState(voters: await livePeers()),
           elected.step > run.step || (force && elected.step == run.step && elected.step > 0 && elected.hash != announcedHash) {
            attempted = true
            if try await download(step: elected.step, hash: elected.hash, donors: elected.donors) { return }
        }
        if let checkpoint = await coordinatorCheckpoint(), checkpoint.step > run.step {
            attempted = true
            logger.info("going on from the coordinator's checkpoint", metadata: ["step": "\(checkpoint.step)"])
            if try await download(step: checkpoint.step, hash: checkpoint.stateHash, donors: [(coordinator, checkpoint.endpoint)]) { return }
        }
        if !attempted && run.step == 0 { await announceState() }
    }

    /// The peers whose progress records say they take part now (this one included): the
    /// voters on the run's state.
    func livePeers() async -> Set<DHTID> {
        let now = RunNetwork.milliseconds()
        let live = PeerProgress.records(in: await network.records(keys.progress)).filter { progressTracker.isLive($0.progress, now: now) }
        return Set(live.map(\.peer)).union([identity.peerID])
    }

    /// The state `voters` elect, this peer's own vote (its current state) included, among the
    /// announcements of `step` only when given. Announcements no honest peer writes are
    /// reported as offences.
    func electedState(voters: Set<DHTID>, step: Int? = nil) async -> StateElection.Winner? {
        electedState(voters: voters, step: step, ballotsAndRefusals: stateBallots(await network.records(keys.state)))
    }

    /// The run's state announcements in `records`, as one vote per peer and the refusals.
    private func stateBallots(_ records: [SignedRecord]) -> (ballots: [StateElection.Ballot], refused: [StateElection.Refusal]) {
        StateElection(stateBytes: run.stateByteCount).ballots(from: records, now: RunNetwork.milliseconds())
    }

    private func electedState(voters: Set<DHTID>, step: Int?,
                              ballotsAndRefusals: (ballots: [StateElection.Ballot], refused: [StateElection.Refusal])) -> StateElection.Winner? {
        let (ballots, refused) = ballotsAndRefusals
        for refusal in refused {
            logger.warning("ignoring a state announcement: \(refusal)")
            if refusal.isOffence {
                network.dht.transport.reportOffence(Offence(.falseClaim, refusal.reason), by: refusal.writer)
            }
        }
        let own = StateElection.Ballot(voter: identity.peerID, announcement: StateAnnouncement(
            step: run.step, stateHash: announcedHash, stateBytes: run.stateByteCount, host: "", port: 0, timestampMilliseconds: 0))
        let others = ballots.filter { $0.voter != identity.peerID && (step == nil || $0.announcement.step == step) }
        return StateElection.winner(of: [own] + others, voters: voters)
    }

    /// The checkpoint the coordinator announces and serves, if any. One whose size is not this
    /// model's state is ignored (logged): a peer that cannot use it still starts afresh.
    private func coordinatorCheckpoint() async -> StateAnnouncement? {
        let records = await network.records(keys.checkpoint)
        guard let newest = records.filter({ $0.ownerID == coordinator && $0.isUnderOwnersSubkey })
            .compactMap({ try? StateAnnouncement(decoding: $0.value) })
            .filter(\.servesState).max(by: { $0.step < $1.step }) else { return nil }
        guard newest.stateBytes == run.stateByteCount else {
            logger.warning("ignoring the coordinator's checkpoint of step \(newest.step): its state has \(newest.stateBytes) bytes, this model's \(run.stateByteCount)")
            return nil
        }
        return newest
    }

    /// Loads the state `hash` of `step` from `donors`; false when the download failed (logged).
    @discardableResult
    private func download(step: Int, hash: [UInt8], donors: [(DHTID, Endpoint)]) async throws -> Bool {
        let bytes: [UInt8]
        do {
            bytes = try await StateFetcher(transport: network.dht.transport, logger: logger)
                .download(step: step, hash: hash, byteCount: run.stateByteCount, donors: donors)
        } catch {
            // Donors step on (they keep two snapshots) and leave; training goes on, and the next
            // look at the run's progress, or the next round's agreement check, tries again.
            logger.warning("state download failed; trying again later", metadata: ["step": "\(step)", "reason": "\(error)"])
            return false
        }
        bytes.withUnsafeBytes { run.loadState(from: $0, step: step) }
        // Who held this peer's rounds up was judged from the state it left: start afresh.
        excludedPeers = [:]
        logger.info("state loaded", metadata: ["step": "\(step)"])
        await announceState()
        return true
    }

    /// Freezes the current state for others to download and announces its step and hash.
    func announceState() async {
        let snapshot = StateSnapshot(of: run)
        announcedHash = snapshot.hash
        try? await network.eventLoop.submit { [services = network.services] in services.value.publish(snapshot) }.get()
        let endpoint = network.dht.endpoint
        let announcement = StateAnnouncement(
            step: snapshot.step, stateHash: snapshot.hash, stateBytes: snapshot.bytes.count,
            host: settings.clientMode ? "" : endpoint.host, port: settings.clientMode ? 0 : endpoint.port,
            timestampMilliseconds: RunNetwork.milliseconds())
        await network.publish(keys.state, announcement.encoded, seconds: 600, logger: logger)
    }

    /// Whether this peer may average its next round: its state is the one the run's peers at
    /// this step agree on.
    ///
    /// Peers at the same step must hold the same state, but a fault can leave them with
    /// different ones: an owner that died while sending its average (some members applied
    /// that part, others skipped it), or peers that could not gather in time and stepped
    /// alone. Before averaging, a peer therefore compares its state with every peer's
    /// announcement for this step, once most of the last round's other members have announced (or
    /// `averagingTimeoutSeconds` passed: members finish a round up to that far apart). The
    /// peers taking part vote, one vote each, and a tie goes to the smaller hash, so that a
    /// split pair settles on one state. If the
    /// state they elect (`StateElection`) is not its own, it counts the mismatch, loads the
    /// agreed state and returns false, so that it accumulates gradients on that state first.
    /// Training goes on meanwhile; only averaging waits.
    func agreementSettled() async throws -> Bool {
        let announced = stateBallots(await network.records(keys.state))
        if let pending = pendingAgreement {
            let members = announced.ballots.filter { pending.members.contains($0.voter) }
            // Most of the other members, not all: one member that never announces would otherwise
            // hold every round it joins up for the whole deadline. Late announcers are compared
            // at the next round.
            let caughtUp = members.filter { $0.announcement.step >= pending.step }.count
            let mostAnnounced = pending.step != run.step || 2 * caughtUp > pending.members.count
            guard mostAnnounced || Date() >= pending.deadline || stop.isStopped else { return false }
            pendingAgreement = nil
        }
        // The peers taking part vote, not only the round's members: a round made up mostly of
        // one attacker's identities must not outvote the run.
        let voters = await livePeers()
        guard let agreed = electedState(voters: voters, step: run.step, ballotsAndRefusals: announced),
              agreed.hash != announcedHash else { return true }
        hashMismatches += 1
        logger.warning("state hash disagrees with the agreed state of the step; reloading",
                       metadata: ["step": "\(run.step)", "voters.agreed": "\(agreed.voters)", "mismatches.total": "\(hashMismatches)"])
        // A failed download (the holders left or moved on) must not stop averaging for good.
        return try await !download(step: run.step, hash: agreed.hash, donors: agreed.donors)
    }
}

/// A finished round whose members' states are still to be compared.
struct PendingAgreement {
    /// The step the members' states are at after the round.
    let step: Int
    /// The other members, whose announcements the comparison waits for.
    let members: Set<DHTID>
    /// When to compare with whatever has been announced by then.
    let deadline: Date
}
