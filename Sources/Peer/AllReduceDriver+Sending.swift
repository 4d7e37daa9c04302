import CohortBase
import Averaging
import DHT
import NIOCore
import Node
import Wire

/// A member's side of a round: its chunks go to each owner within a send window, the owners'
/// answers come back into the round, and silent senders are pinged.
extension AllReduceDriver {
    /// What an answer to a chunk request brought.
    enum AveragedReply {
        case averaged(AveragedChunk)
        /// An uncompressed average copied straight into the vector (`averagedChunkDestination`).
        case writtenInPlace(AveragedChunkReference)
        /// The owner could not copy a chunk out of this member's memory: use the socket.
        case sameHostRefused
        /// The owner is past the round's step: it took that step without this round.
        case ownerPastTheRound
        case failed
    }

    /// How long a silent sender has to answer a ping. Not answering leaves it in: only a sender
    /// that is certainly gone is left out before the sender deadline.
    static let aliveCheckTimeout = TimeAmount.seconds(5)
    /// Waits before retrying a chunk the transport refused because the link's send buffer was full.
    static let backpressureRetryDelay = TimeAmount.milliseconds(2)

    /// Chunks in flight to one owner. The owner answers chunk k only once every member's chunk k
    /// is in, so sent chunks stay in flight for a while: the window keeps them within half the
    /// connection's send buffer (the other half carries this member's averages the other way),
    /// so the link stays busy without refusing requests for backpressure, and within half the
    /// requests a peer serves at once from one peer (`maxInboundRequestsPerPeer`, the same
    /// default on both sides). At that limit the owner stops reading the connection, which also
    /// carries the averages of this member's own part back to it: with the DHT's requests on top
    /// of a full window of chunks, two members each waiting for the other's answers stalled a
    /// round of small chunks until its timeout.
    static func sendWindow(chunkBytes: Int, settings: TransportSettings) -> Int {
        let requests = min(settings.maxOutboundRequestsPerPeer, settings.maxInboundRequestsPerPeer) / 2
        return max(1, min(requests, settings.sendBufferHighWatermark / 2 / max(1, chunkBytes)))
    }

    /// Sends queued chunks to `owner` while its window has room.
    func sendParts(to owner: PeerID) {
        guard let round, let settings = transport?.settings else { return }
        let chunkBytes = round.settings.compression.encodedByteCount(elementCount: round.settings.chunkSize)
        let window = Self.sendWindow(chunkBytes: chunkBytes, settings: settings)
        while let reference = context?.windows.next(to: owner, window: window) {
            sendPart(reference, to: owner)
        }
    }

    /// Tries `owner`'s queued chunks again once its full link has had a moment to drain.
    private func retryLater(_ owner: PeerID, round roundID: UInt64) {
        guard context?.windows.startRetry(to: owner) == true else { return }
        eventLoop.assumeIsolated().scheduleTask(in: Self.backpressureRetryDelay) { [self] in
            context?.windows.endRetry(to: owner)
            if round?.plan.id == roundID { sendParts(to: owner) }
        }
    }

    private func sendPart(_ reference: AllReduceRound.ChunkReference, to owner: PeerID) {
        guard let round, let transport, let endpoint = context?.endpoints[owner] else {
            failPeer(owner)
            return
        }
        let roundID = round.plan.id
        let key = ChunkKey(peer: owner, part: reference.part, chunk: reference.chunk)
        let local = sameHost.copiesChunks(with: owner)
        let type: MessageType = local ? .averagePartLocal : .averagePart
        let payload = local ? sameHost.exposePartChunk(reference, key: key, of: round) : round.partChunkPayload(for: reference)
        let timeout = TimeAmount(round.settings.roundTimeout)
        transport.request(type, payload: payload, to: endpoint, expecting: owner, timeout: timeout)
            .hop(to: eventLoop)
            .assumeIsolated()
            .whenComplete { [self] result in
                guard self.round?.plan.id == roundID else { return }
                sameHost.release(key)
                context?.windows.onAnswered(by: owner)
                if case .failure(TransportError.backpressure) = result {
                    // The link is full, not broken: try this chunk again once it has drained a little.
                    context?.windows.requeue(reference, to: owner)
                    retryLater(owner, round: roundID)
                    return
                }
                switch result.map({ averagedChunk(from: $0.frame, owner: owner) }) {
                case .success(.averaged(let averaged)):
                    feedRound { $0.onAveragedChunk(averaged, from: owner, now: Self.now()) }
                case .success(.writtenInPlace(let reference)):
                    feedRound {
                        $0.onAveragedChunkWritten(part: reference.part, chunk: reference.chunk, byteCount: reference.memory.byteCount,
                                                  from: owner, now: Self.now())
                    }
                case .success(.sameHostRefused) where local:
                    // The owner could not copy the chunk: send it again, and the rest, through the socket.
                    context?.windows.requeue(reference, to: owner)
                case .success(.ownerPastTheRound):
                    context?.ownersPastTheRound.insert(owner)
                    context?.windows.dropUnsent(to: owner)
                    feedRound { $0.onPeerFailed(owner, now: Self.now()) }
                case .success(.sameHostRefused), .success(.failed), .failure:
                    context?.windows.dropUnsent(to: owner)
                    feedRound { $0.onPeerFailed(owner, now: Self.now()) }
                }
                if self.round?.plan.id == roundID { sendParts(to: owner) }
            }
    }

    /// The averaged chunk an owner's answer carries or points at.
    private func averagedChunk(from frame: Frame, owner: PeerID) -> AveragedReply {
        switch frame.type {
        case .averagedPart:
            return (try? AveragedChunk(decoding: frame.payload[...])).map(AveragedReply.averaged) ?? .failed
        case .averagedPartLocal:
            guard let reference = try? AveragedChunkReference(decoding: frame.payload[...]) else { return .failed }
            return sameHost.copyAverage(reference, from: owner, into: round)
        case .error:
            guard case .error(let reply) = try? DHTMessage(frame: frame) else { return .failed }
            if reply.code == TransportErrorCode.pastTheRound { return .ownerPastTheRound }
            if reply.code == TransportErrorCode.sameHostRefused {
                sameHost.onRefused(by: owner, reason: reply.message)
                return .sameHostRefused
            }
            return .failed
        default:
            return .failed
        }
    }

    /// Pings a sender that owes this owner chunks but has gone silent: over its connection,
    /// or by dialling its address when it has one (a client-mode member has none). A refused
    /// dial, a lost connection, a different peer at its address, or no connection to a member
    /// that has no address, all mean it is gone.
    func checkAlive(_ peer: PeerID) {
        guard let round, let transport, context?.checkingAlive.insert(peer).inserted == true else { return }
        let roundID = round.plan.id
        let ping = DHTMessage.ping(sender: nil).encodedPayload()
        let endpoint = context?.endpoints[peer]
        let reply = endpoint.map {
            transport.request(.ping, payload: ping, to: $0, expecting: peer, timeout: Self.aliveCheckTimeout)
        } ?? transport.request(.ping, payload: ping, overOpenConnectionTo: peer, timeout: Self.aliveCheckTimeout)
        reply.hop(to: eventLoop).assumeIsolated().whenComplete { [self] result in
            context?.checkingAlive.remove(peer)
            guard self.round?.plan.id == roundID, case .failure(let error) = result, Self.meansGone(error) else { return }
            logger.info("a silent sender is gone", metadata: ["peer.id": "\(peer)", "reason": "\(error)"])
            failPeer(peer)
        }
    }

    /// Whether a failed ping shows the peer gone, not merely slow, busy (a peer at its
    /// connection limit closes the handshake early) or this node busy.
    private static func meansGone(_ error: any Error) -> Bool {
        switch error {
        case TransportError.connectionClosed, HandshakeError.unexpectedPeer:
            true
        default:
            false
        }
    }

    private func failPeer(_ peer: PeerID) {
        feedRound { $0.onPeerFailed(peer, now: Self.now()) }
    }
}
