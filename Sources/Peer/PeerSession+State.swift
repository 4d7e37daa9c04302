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
    func catchUp(force: Bool) async throws {
        let records = await network.records(keys.state)
        guard let newest = StateFetcher.donors(from: records, excluding: identity.peerID),
              newest.step > run.step || (force && newest.step >= run.step && newest.step > 0) else {
            if run.step == 0 { await announceState() }
            return
        }
        try await download(step: newest.step, hash: newest.hash, bytes: newest.bytes, donors: newest.donors)
    }

    private func download(step: Int, hash: [UInt8], bytes totalBytes: Int, donors: [(DHTID, Endpoint)]) async throws {
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
            return
        }
        bytes.withUnsafeBytes { run.loadState(from: $0, step: step) }
        logger.info("state loaded", metadata: ["step": "\(step)"])
        await announceState()
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

    /// Whether the last round's members are known to agree, so the next round may start.
    ///
    /// After a round the members must hold the same state. Once every member announced its
    /// state for the step (or `averagingTimeoutSeconds` passed: members finish a round up to
    /// that far apart), this compares them: if the state they agree on (`RoundAgreement`) is
    /// not ours, ours drifted (an owner died while sending its average), so it counts the
    /// mismatch and loads the agreed state from the members holding it. Training goes on
    /// meanwhile; only the next round waits, so that no round averages on a drifted state.
    func agreementSettled() async throws -> Bool {
        guard let pending = pendingAgreement else { return true }
        guard pending.step == run.step else {
            // The state changed since (a download): that check is moot.
            pendingAgreement = nil
            return true
        }
        let latest = await network.records(keys.state).compactMap { record -> (DHTID, StateAnnouncement)? in
            guard pending.members.contains(record.ownerID.bytes),
                  let announcement = try? StateAnnouncement(decoding: record.value) else { return nil }
            return (record.ownerID, announcement)
        }
        let everyoneAnnounced = latest.count == pending.members.count && latest.allSatisfy { $0.1.step >= pending.step }
        guard everyoneAnnounced || Date() >= pending.deadline || stop.isStopped else { return false }
        pendingAgreement = nil
        let others = latest.filter { $0.1.step == pending.step }
        guard let agreed = RoundAgreement.agreedHash(among: [announcedHash] + others.map(\.1.stateHash)),
              agreed != announcedHash else { return true }
        hashMismatches += 1
        let holders = others.filter { $0.1.stateHash == agreed }
        logger.warning("state hash disagrees with the round's agreed state; reloading",
                       metadata: ["step": "\(run.step)", "agreeing": "\(others.filter { $0.1.stateHash == announcedHash }.count)",
                                  "holding.agreed": "\(holders.count)", "mismatches.total": "\(hashMismatches)"])
        try await download(step: run.step, hash: agreed, bytes: run.stateByteCount,
                           donors: holders.filter { $0.1.servesState }.map { ($0.0, $0.1.endpoint) })
        return true
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
