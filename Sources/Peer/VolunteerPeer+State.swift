import Averaging
import Collaboration
import DHT
import Foundation
import NIOCore
import Node
import Wire

extension VolunteerPeer {
    /// Downloads the newest state that the run's peers announce, unless this peer already has
    /// it. Without `force`, a run nobody has stepped yet starts from the shared initial state.
    func catchUp(force: Bool) async throws {
        let announcements = await network.records(keys.state).compactMap { record -> (DHTID, StateAnnouncement)? in
            guard let announcement = try? StateAnnouncement(decoding: record.value) else { return nil }
            return (record.ownerID, announcement)
        }
        let newest = announcements.map(\.1.step).max() ?? 0
        guard newest > run.step || (force && newest >= run.step && newest > 0) else {
            if newest == 0 { await announceState() }
            return
        }
        // Donors: peers at the newest step that serve state and agree on the most common hash.
        let atNewest = announcements.filter { $0.1.step == newest && $0.1.servesState && $0.0 != identity.peerID }
        let hashes = Dictionary(grouping: atNewest, by: { $0.1.stateHash })
        guard let (hash, donors) = hashes.max(by: { $0.value.count < $1.value.count }) else {
            logger.warning("no peer serves the state of step \(newest) yet")
            return
        }
        try await download(step: newest, hash: hash, bytes: donors[0].1.stateBytes,
                           donors: donors.map { ($0.0, Endpoint(host: $0.1.host, port: $0.1.port)) })
    }

    private func download(step: Int, hash: [UInt8], bytes totalBytes: Int, donors: [(DHTID, Endpoint)]) async throws {
        guard totalBytes == run.stateByteCount else {
            throw PeerError("the run's state has \(totalBytes) bytes but this model's has \(run.stateByteCount): wrong run config?")
        }
        logger.info("downloading state", metadata: ["step": "\(step)", "donors": "\(donors.count)", "bytes": "\(totalBytes)"])
        var buffer = [UInt8](repeating: 0, count: totalBytes)
        let endpoints = Dictionary(uniqueKeysWithValues: donors.map { (Averaging.PeerID(bytes: $0.0.bytes)!, ($0.0, $0.1)) })
        var download = StateDownload(totalBytes: totalBytes, donors: Array(endpoints.keys).sorted())
        var actions = download.start(now: PeerServices.now())
        let transport = network.dht.transport
        while true {
            var requests: [(Int, Range<Int>, Averaging.PeerID)] = []
            for action in actions {
                switch action {
                case .request(let chunk, let range, let donor): requests.append((chunk, range, donor))
                case .progress(let received, let total):
                    if received == total || received % (totalBytes / 4 + 1) < 1 << 20 {
                        logger.info("state download", metadata: ["received": "\(received)", "total": "\(total)"])
                    }
                case .completed:
                    guard StateSnapshot.hash(step: step, bytes: buffer) == hash else {
                        throw PeerError("downloaded state of step \(step) does not match the hash its donors announced")
                    }
                    buffer.withUnsafeBytes { run.loadState(from: $0, step: step) }
                    logger.info("state loaded", metadata: ["step": "\(step)"])
                    await announceState()
                    return
                case .failed(let reason): throw PeerError("state download failed: \(reason)")
                case .wake: break
                }
            }
            actions = []
            // Requests of one batch run concurrently; their results feed the state machine in turn.
            let results = await withTaskGroup(of: (Int, Averaging.PeerID, [UInt8]?).self) { group in
                for (chunk, range, donor) in requests {
                    let (peerID, endpoint) = endpoints[donor]!
                    let payload = StateRequest(step: step, offset: range.lowerBound, length: range.count).encoded
                    group.addTask {
                        let reply = try? await transport.request(.stateRequest, payload: payload, to: endpoint,
                                                                 expecting: peerID, timeout: .seconds(20)).get()
                        guard let reply, reply.frame.type == .stateChunk, let chunkReply = try? StateChunk(decoding: reply.frame.payload),
                              chunkReply.step == step, chunkReply.offset == range.lowerBound else { return (chunk, donor, nil) }
                        return (chunk, donor, Array(chunkReply.bytes))
                    }
                }
                var collected: [(Int, Averaging.PeerID, [UInt8]?)] = []
                for await result in group { collected.append(result) }
                return collected
            }
            for (chunk, donor, bytes) in results {
                if let bytes, bytes.count == download.byteRange(ofChunk: chunk).count {
                    buffer.replaceSubrange(download.byteRange(ofChunk: chunk), with: bytes)
                    actions += download.onChunk(chunk, byteCount: bytes.count, from: donor, now: PeerServices.now())
                } else {
                    actions += download.onDonorFailed(donor, now: PeerServices.now())
                }
            }
        }
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

    /// After a round: if most of the round's members announce another hash for this step than
    /// ours, our state drifted (it must not); count it and reload.
    func checkAgreement(with members: [Averaging.PeerID]) async throws {
        let own = announcedHash
        let memberIDs = Set(members.map(\.bytes))
        let hashes = await network.records(keys.state).compactMap { record -> [UInt8]? in
            guard memberIDs.contains(record.ownerID.bytes), record.ownerID != identity.peerID,
                  let announcement = try? StateAnnouncement(decoding: record.value), announcement.step == run.step else { return nil }
            return announcement.stateHash
        }
        let disagreeing = hashes.filter { $0 != own }.count
        guard disagreeing > hashes.count - disagreeing else { return }
        hashMismatches += 1
        logger.warning("state hash disagrees with the round's majority; reloading",
                       metadata: ["step": "\(run.step)", "agreeing": "\(hashes.count - disagreeing)", "disagreeing": "\(disagreeing)"])
        try await catchUp(force: true)
    }
}
