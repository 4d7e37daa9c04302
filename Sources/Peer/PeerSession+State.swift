import Averaging
import Collaboration
import DHT
import Foundation
import NIOCore
import Node
import Wire

extension PeerSession {
    /// Downloads the newest state that the run's peers announce, unless this peer already has
    /// it. Without `force`, a run nobody has stepped yet starts from the shared initial state.
    /// When no peer's state can be had (every peer that trained the run has left, though
    /// their announcements linger) and the coordinator serves a newer checkpoint, the run goes
    /// on from the checkpoint.
    func catchUp(force: Bool) async throws {
        var attempted = false
        if let newest = StateFetcher.donors(from: await network.records(keys.state), excluding: identity.peerID),
           newest.step > run.step || (force && newest.step >= run.step && newest.step > 0) {
            attempted = true
            if try await download(step: newest.step, hash: newest.hash, bytes: newest.bytes, donors: newest.donors) { return }
        }
        if let checkpoint = await coordinatorCheckpoint(), checkpoint.step > run.step {
            attempted = true
            logger.info("going on from the coordinator's checkpoint", metadata: ["step": "\(checkpoint.step)"])
            if try await download(step: checkpoint.step, hash: checkpoint.stateHash, bytes: checkpoint.stateBytes,
                                  donors: [(coordinator, checkpoint.endpoint)]) { return }
        }
        if !attempted && run.step == 0 { await announceState() }
    }

    /// The checkpoint the coordinator announces and serves, if any. One whose size is not this
    /// model's state is ignored (logged): a peer that cannot use it still starts afresh.
    private func coordinatorCheckpoint() async -> StateAnnouncement? {
        let records = await network.records(keys.checkpoint)
        guard let newest = records.filter({ $0.ownerID == coordinator }).compactMap({ try? StateAnnouncement(decoding: $0.value) })
            .filter(\.servesState).max(by: { $0.step < $1.step }) else { return nil }
        guard newest.stateBytes == run.stateByteCount else {
            logger.warning("ignoring the coordinator's checkpoint of step \(newest.step): its state has \(newest.stateBytes) bytes, this model's \(run.stateByteCount)")
            return nil
        }
        return newest
    }

    /// Loads the state `hash` of `step` from `donors`; false when the download failed (logged).
    @discardableResult
    private func download(step: Int, hash: [UInt8], bytes totalBytes: Int, donors: [(DHTID, Endpoint)]) async throws -> Bool {
        guard totalBytes == run.stateByteCount else {
            throw PeerError("the run's state has \(totalBytes) bytes but this model's has \(run.stateByteCount): wrong run config?")
        }
        let bytes: [UInt8]
        do {
            bytes = try await StateFetcher(transport: network.dht.transport, logger: logger)
                .download(step: step, hash: hash, byteCount: totalBytes, donors: donors)
        } catch {
            // Donors step on (they keep two snapshots) and leave; training goes on, and the next
            // look at the run's progress, or the next round's agreement check, tries again.
            logger.warning("state download failed; trying again later", metadata: ["step": "\(step)", "reason": "\(error)"])
            return false
        }
        bytes.withUnsafeBytes { run.loadState(from: $0, step: step) }
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
    /// announcement for this step, once the last round's members have all announced (or
    /// `averagingTimeoutSeconds` passed: members finish a round up to that far apart). If the
    /// state they agree on (`RoundAgreement`) is not its own, it counts the mismatch, loads the
    /// agreed state and returns false, so that it accumulates gradients on that state first.
    /// Training goes on meanwhile; only averaging waits.
    func agreementSettled() async throws -> Bool {
        let announcements = await network.records(keys.state).compactMap { record -> (DHTID, StateAnnouncement)? in
            guard record.ownerID != identity.peerID, let announcement = try? StateAnnouncement(decoding: record.value) else { return nil }
            return (record.ownerID, announcement)
        }
        if let pending = pendingAgreement {
            let members = announcements.filter { pending.members.contains($0.0.bytes) }
            let allAnnounced = pending.step != run.step
                || (members.count == pending.members.count && members.allSatisfy { $0.1.step >= pending.step })
            guard allAnnounced || Date() >= pending.deadline || stop.isStopped else { return false }
            pendingAgreement = nil
        }
        let atStep = announcements.filter { $0.1.step == run.step }
        guard let agreed = RoundAgreement.agreedHash(among: [announcedHash] + atStep.map(\.1.stateHash)),
              agreed != announcedHash else { return true }
        hashMismatches += 1
        let holders = atStep.filter { $0.1.stateHash == agreed }
        logger.warning("state hash disagrees with the agreed state of the step; reloading",
                       metadata: ["step": "\(run.step)", "agreeing": "\(atStep.filter { $0.1.stateHash == announcedHash }.count)",
                                  "holding.agreed": "\(holders.count)", "mismatches.total": "\(hashMismatches)"])
        // A failed download (the holders left or moved on) must not stop averaging for good.
        return try await !download(step: run.step, hash: agreed, bytes: run.stateByteCount,
                                   donors: holders.filter { $0.1.servesState }.map { ($0.0, $0.1.endpoint) })
    }
}

/// A finished round whose members' states are still to be compared.
struct PendingAgreement {
    /// The step the members' states are at after the round.
    let step: Int
    /// The other members' peer ids (bytes).
    let members: Set<[UInt8]>
    /// When to compare with whatever has been announced by then.
    let deadline: Date
}
