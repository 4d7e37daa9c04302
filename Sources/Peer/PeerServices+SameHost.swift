import CohortBase
import Averaging
import DHT
import NIOCore
import Node
import Wire

/// Same-host copies (docs/protocol.md, "Same-host copies"): between two peers proven to run on
/// this machine, a chunk's bytes do not go through the socket and the record layer. The
/// sender exposes them at a fixed address and sends where they lie; the receiver copies them
/// out of the sender's memory with one `process_vm_readv`, then checks the sender's lease to
/// know they were not let go meanwhile. Members copy their chunks to owners that way and owners
/// their averages back. Anything that fails falls back to the socket.
extension PeerServices {
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

    /// How long each step of a same-host proof may take.
    static let sameHostProofTimeout = TimeAmount.seconds(5)

    // MARK: member side

    /// Returns the `averagePartLocal` payload saying where a chunk lies: in the vector itself
    /// when it travels uncompressed, else encoded into memory exposed until the owner answers.
    func exposePartChunk(_ reference: AllReduceRound.ChunkReference, key: PendingKey) -> [UInt8] {
        guard let round else { preconditionFailure("a chunk exposed outside a round") }
        let memory: MemoryReference
        if let values = round.uncompressedPartChunkMemory(for: reference) {
            memory = MemoryReference(address: UInt64(UInt(bitPattern: values.baseAddress)), byteCount: values.count,
                                     lease: roundLease.address)
        } else {
            let byteCount = round.settings.compression.encodedByteCount(elementCount: reference.elements.count)
            let exposed = ExposedBytes(count: byteCount) { _ = round.encodePartChunk(reference, into: $0) }
            exposedChunks[key] = exposed
            memory = MemoryReference(address: exposed.address, byteCount: byteCount, lease: roundLease.address)
        }
        return round.partChunkReferencePayload(for: reference, memory: memory)
    }

    /// The averaged chunk an owner's answer carries or points at.
    func averagedChunk(from frame: Frame, owner: PeerID) -> AveragedReply {
        switch frame.type {
        case .averagedPart:
            return (try? AveragedChunk(decoding: frame.payload[...])).map(AveragedReply.averaged) ?? .failed
        case .averagedPartLocal:
            guard let reference = try? AveragedChunkReference(decoding: frame.payload[...]),
                  let limit = transport?.settings.maxMessageBytes, reference.memory.byteCount <= limit else { return .failed }
            if let destination = round?.averagedChunkDestination(
                   roundID: reference.roundID, part: reference.part, chunk: reference.chunk, compression: reference.compression,
                   byteCount: reference.memory.byteCount, from: owner) {
                // A failed copy may have written part of the chunk: the owner's part fails, and is not used.
                return copySameHost(reference.memory, roundID: reference.roundID, from: owner, into: destination)
                    ? .writtenInPlace(reference) : .failed
            }
            guard let bytes = copySameHost(reference.memory, roundID: reference.roundID, from: owner) else { return .failed }
            return .averaged(reference.chunk(bytes: bytes[...]))
        case .error:
            guard case .error(let reply) = try? DHTMessage(frame: frame) else { return .failed }
            if reply.code == TransportErrorCode.pastTheRound { return .ownerPastTheRound }
            if reply.code == TransportErrorCode.sameHostRefused {
                sameHost.markUnavailable(owner, reason: reply.message)
                logger.info("same-host copies refused by peer, using the socket",
                            metadata: ["peer.id": "\(owner)", "reason": "\(reply.message)"])
                return .sameHostRefused
            }
            return .failed
        default:
            return .failed
        }
    }

    // MARK: owner side

    /// An `averagePartLocal`: copies the member's chunk out of its memory and takes it.
    func serveLocalPart(_ request: Transport.InboundRequest) -> EventLoopFuture<Frame> {
        let reference: PartChunkReference
        do {
            reference = try PartChunkReference(decoding: request.frame.payload[...])
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        guard sameHost.processID(of: request.peer) != nil else {
            return refuseSameHost("not proven to run on this machine")
        }
        guard let limit = transport?.settings.maxMessageBytes, reference.memory.byteCount <= limit else {
            return refuseSameHost("chunk of \(reference.memory.byteCount) bytes above the message limit")
        }
        guard let bytes = copySameHost(reference.memory, roundID: reference.roundID, from: request.peer) else {
            return refuseSameHost("the chunk could not be copied")
        }
        return receive(reference.chunk(bytes: bytes[...]), from: request.peer, local: true)
    }

    /// Exposes an averaged chunk until this owner's round after next starts and returns the
    /// `averagedPartLocal` payload saying where it lies.
    func exposeAverage(of reference: AllReduceRound.ChunkReference, in round: AllReduceRound) -> [UInt8] {
        let exposed = round.withAveragedChunkBytes(for: reference) { ExposedBytes(copying: $0) }
        guard let current = exposedAverages.last, current.roundID == round.plan.id else {
            preconditionFailure("averages of round \(round.plan.id) exposed outside it")
        }
        current.chunks.append(exposed)
        let memory = MemoryReference(address: exposed.address, byteCount: exposed.bytes.count, lease: current.lease.address)
        return AveragedChunkReference(roundID: round.plan.id, part: reference.part, chunk: reference.chunk,
                                      compression: round.settings.compression, memory: memory).encoded()
    }

    private func refuseSameHost(_ reason: String) -> EventLoopFuture<Frame> {
        eventLoop.makeSucceededFuture(Frame.refusal("same-host copy refused: \(reason)", code: TransportErrorCode.sameHostRefused))
    }

    /// The bytes at `memory` in the proven peer's process if its lease for `roundID` still held
    /// after they were copied; nil otherwise.
    private func copySameHost(_ memory: MemoryReference, roundID: UInt64, from peer: PeerID) -> [UInt8]? {
        var copied = false
        let bytes = [UInt8](unsafeUninitializedCapacity: memory.byteCount) { buffer, initialised in
            copied = copySameHost(memory, roundID: roundID, from: peer, into: UnsafeMutableRawBufferPointer(buffer))
            initialised = copied ? memory.byteCount : 0
        }
        return copied ? bytes : nil
    }

    /// Copies the bytes at `memory` in the proven peer's process into `destination` (as long)
    /// and tells whether its lease for `roundID` still held afterwards; if not, or the copy
    /// failed, `destination` holds no meaning. Memory let go (a lease no longer held, an
    /// address no longer mapped) only fails this copy: the peer was late, as a peer whose round
    /// timed out is. A process that is gone is forgotten (a peer that restarts is proven again);
    /// any other failure (the kernel refuses) ends copies from the peer.
    private func copySameHost(_ memory: MemoryReference, roundID: UInt64, from peer: PeerID,
                              into destination: UnsafeMutableRawBufferPointer) -> Bool {
        guard let processID = sameHost.processID(of: peer), destination.count == memory.byteCount else { return false }
        do {
            try ProcessMemory.read(from: processID, at: memory.address, into: destination)
            guard try MemoryLease.holds(roundID: roundID, in: processID, at: memory.lease) else {
                logger.info("same-host copy came after the memory was let go", metadata: ["peer.id": "\(peer)"])
                return false
            }
            countSameHostCopy(memory.byteCount, roundID: roundID)
            return true
        } catch where error.isUnmappedAddress {
            logger.info("same-host copy came after the memory was let go", metadata: ["peer.id": "\(peer)", "reason": "\(error)"])
            return false
        } catch where error.isProcessGone {
            sameHost.forget(peer)
            logger.info("same-host copy failed: the peer's process is gone", metadata: ["peer.id": "\(peer)"])
            return false
        } catch {
            sameHost.markUnavailable(peer, reason: "\(error)")
            logger.info("same-host copy failed, using the socket", metadata: ["peer.id": "\(peer)", "reason": "\(error)"])
            return false
        }
    }

    // MARK: proofs

    /// Starts proofs with the round's owners that listen on a loopback address; the round
    /// does not wait for them (its chunks take the socket until a proof is done).
    func probeSameHostPeers(of plan: GroupPlan, me: PeerID) {
        let owners = plan.members.enumerated().compactMap { index, member -> (PeerID, Endpoint)? in
            guard member.peer != me, !plan.parts[index].isEmpty, let endpoint = roundEndpoints[member.peer] else { return nil }
            return (member.peer, endpoint)
        }
        _ = proveSameHost(owners)
    }

    /// Proves this process and each of `peers` that listens on a loopback address (the only
    /// peers that can share this machine without sharing a network namespace's view of it) to
    /// each other; completes when every proof has ended, whichever way.
    func proveSameHost(_ peers: [(PeerID, Endpoint)]) -> EventLoopFuture<Void> {
        guard sameHostCopies, let transport else { return eventLoop.makeSucceededVoidFuture() }
        let proofs = peers.compactMap { peer, endpoint -> EventLoopFuture<Void>? in
            guard endpoint.isLoopback, let secret = sameHost.startProbe(peer) else { return nil }
            return transport.request(.sameHostProbe, payload: secret, to: endpoint, expecting: peer, timeout: Self.sameHostProofTimeout)
                .hop(to: eventLoop)
                .assumeIsolated()
                .flatMap { [self] reply -> EventLoopFuture<Void> in
                    guard reply.frame.type == .sameHostChallenge,
                          let challenge = try? SameHostProof.Exhibit(decoding: reply.frame.payload) else {
                        sameHost.abandonProbe(peer, reason: "no challenge came back")
                        return eventLoop.makeSucceededVoidFuture()
                    }
                    do {
                        guard let proof = try sameHost.onChallenge(challenge, from: peer) else { return eventLoop.makeSucceededVoidFuture() }
                        return sendProof(proof, to: peer, at: endpoint)
                    } catch {
                        logger.info("peer not proven to run on this machine", metadata: ["peer.id": "\(peer)", "reason": "\(error)"])
                        return eventLoop.makeSucceededVoidFuture()
                    }
                }
                .flatMapErrorThrowing { [self] error in
                    sameHost.abandonProbe(peer, reason: "\(error)")
                }
                .nonisolated()
        }
        return EventLoopFuture.andAllComplete(proofs, on: eventLoop)
    }

    private func sendProof(_ proof: SameHostProof.Exhibit, to peer: PeerID, at endpoint: Endpoint) -> EventLoopFuture<Void> {
        guard let transport else { return eventLoop.makeSucceededVoidFuture() }
        return transport.request(.sameHostProof, payload: proof.encoded(), to: endpoint, expecting: peer, timeout: Self.sameHostProofTimeout)
            .hop(to: eventLoop)
            .assumeIsolated()
            .map { [self] reply in
                guard reply.frame.type == .sameHostProofAccepted else {
                    sameHost.abandonProbe(peer, reason: "the proof was not accepted")
                    return
                }
                sameHost.onProofAccepted(from: peer)
                logger.info("peer proven to run on this machine: averaging chunks are copied between the processes",
                            metadata: ["peer.id": "\(peer)"])
            }
            .nonisolated()
    }

    func answerProbe(_ request: Transport.InboundRequest) -> EventLoopFuture<Frame> {
        guard sameHostCopies else { return refuseSameHost("same-host copies are off here") }
        do {
            let challenge = try sameHost.answer(probe: request.frame.payload, from: request.peer)
            return eventLoop.makeSucceededFuture(Frame(type: .sameHostChallenge, requestID: 0, payload: challenge.encoded()))
        } catch {
            return refuseSameHost("\(error)")
        }
    }

    func checkProof(_ request: Transport.InboundRequest) -> EventLoopFuture<Frame> {
        do {
            let proof = try SameHostProof.Exhibit(decoding: request.frame.payload)
            try sameHost.check(proof: proof, from: request.peer)
            logger.info("peer proven to run on this machine: averaging chunks are copied between the processes",
                        metadata: ["peer.id": "\(request.peer)"])
            return eventLoop.makeSucceededFuture(Frame(type: .sameHostProofAccepted, requestID: 0, payload: []))
        } catch {
            return refuseSameHost("\(error)")
        }
    }
}

/// One round's averaged chunks exposed by this owner, under a lease revoked when they go.
final class ExposedAverages {
    let roundID: UInt64
    let lease = MemoryLease()
    var chunks: [ExposedBytes] = []

    init(roundID: UInt64) {
        self.roundID = roundID
        lease.grant(roundID: roundID)
    }

    deinit {
        lease.revoke()
    }
}

extension Endpoint {
    /// Whether the host is this machine's loopback address (127.0.0.0/8, ::1 or localhost).
    var isLoopback: Bool {
        host.hasPrefix("127.") || host == "::1" || host == "localhost"
    }
}
