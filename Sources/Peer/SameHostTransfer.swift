import CohortBase
import Averaging
import Logging
import NIOCore
import Node
import Wire

/// Same-host copies (docs/protocol.md, "Same-host copies"): between two peers proven to run on
/// this machine, a chunk's bytes do not go through the socket and the record layer. The
/// sender exposes them at a fixed address and sends where they lie; the receiver copies them
/// out of the sender's memory with one `process_vm_readv`, then checks the sender's lease to
/// know they were not let go meanwhile. Members copy their chunks to owners that way and owners
/// their averages back. Anything that fails falls back to the socket.
///
/// Lives on the transport's event loop, beside the `AllReduceDriver` that uses it.
final class SameHostTransfer {
    let eventLoop: EventLoop
    let logger: Logger
    var transport: Transport?
    /// Whether chunks to and from peers proven to run on this machine are copied between the
    /// processes instead of sent through the socket.
    let enabled: Bool
    let peers: SameHostPeers
    /// This member's chunks exposed to owners on this machine until they answer; they hold
    /// what they were pointed at while `roundLease` does, which ends with the round.
    private var exposedChunks: [ChunkKey: ExposedBytes] = [:]
    private let roundLease = MemoryLease()
    /// This owner's averaged chunks exposed to members on this machine, of this round and the
    /// one before: members copy them when the answer reaches them, which can be after this
    /// owner went on to its next round (a member cannot be further behind, since this owner's
    /// next round waits for that member's chunks).
    private var exposedAverages: [ExposedAverages] = []
    /// Chunk bytes copied out of other processes' memory, both directions, by round id: the
    /// running round's, and the next one's copied before it started here.
    private var bytesCopied: [UInt64: Int] = [:]

    init(eventLoop: EventLoop, logger: Logger, ownID: PeerID, enabled: Bool) {
        self.eventLoop = eventLoop
        self.logger = logger
        self.enabled = enabled
        peers = SameHostPeers(ownID: ownID)
        if enabled, let refusal = ProcessMemory.allowReadersOfThisUser() {
            logger.info("sibling peers on this machine may be refused copies from this process", metadata: ["reason": "\(refusal)"])
        }
    }

    /// Leases this round's exposed memory, lets go of the averages of the round before last,
    /// and starts proofs with the round's owners.
    func beginRound(_ plan: GroupPlan, me: PeerID, endpoints: [PeerID: Endpoint]) {
        exposedAverages = Array(exposedAverages.suffix(1)) + [ExposedAverages(roundID: plan.id)]
        bytesCopied = bytesCopied.filter { $0.key == plan.id }
        roundLease.grant(roundID: plan.id)
        probeOwners(of: plan, me: me, endpoints: endpoints)
    }

    /// Revokes the round's lease, so that an owner still copying a chunk sees it may be stale.
    func endRound() {
        roundLease.revoke()
        exposedChunks = [:]
    }

    /// Whether chunks to `peer` are copied instead of sent.
    func copiesChunks(with peer: PeerID) -> Bool {
        enabled && peers.processID(of: peer) != nil
    }

    /// Chunk bytes of round `roundID` copied out of other processes. Complete once this
    /// peer's round is over: as an owner it copied every chunk before averaging, as a member
    /// every average before finishing.
    func bytesCopied(roundID: UInt64) -> Int {
        bytesCopied[roundID] ?? 0
    }

    // MARK: member side

    /// Returns the `averagePartLocal` payload saying where a chunk lies: in the vector itself
    /// when it travels uncompressed, else encoded into memory exposed until the owner answers.
    func exposePartChunk(_ reference: AllReduceRound.ChunkReference, key: ChunkKey, of round: AllReduceRound) -> [UInt8] {
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

    /// The owner answered chunk `key`: it no longer reads it.
    func release(_ key: ChunkKey) {
        exposedChunks[key] = nil
    }

    /// The average an owner's `averagedPartLocal` points at: written straight into the round's
    /// vector when the round takes it there, else copied out.
    func copyAverage(_ reference: AveragedChunkReference, from owner: PeerID,
                     into round: AllReduceRound?) -> AllReduceDriver.AveragedReply {
        guard let limit = transport?.settings.maxMessageBytes, reference.memory.byteCount <= limit else { return .failed }
        if let destination = round?.averagedChunkDestination(
               roundID: reference.roundID, part: reference.part, chunk: reference.chunk, compression: reference.compression,
               byteCount: reference.memory.byteCount, from: owner) {
            // A failed copy may have written part of the chunk: the owner's part fails, and is not used.
            return copyOut(reference.memory, roundID: reference.roundID, from: owner, into: destination)
                ? .writtenInPlace(reference) : .failed
        }
        guard let bytes = copyOut(reference.memory, roundID: reference.roundID, from: owner) else { return .failed }
        return .averaged(reference.chunk(bytes: bytes[...]))
    }

    /// The owner could not copy this member's chunks: they go through the socket from now on.
    func onRefused(by owner: PeerID, reason: String) {
        peers.markUnavailable(owner, reason: reason)
        logger.info("same-host copies refused by peer, using the socket", metadata: ["peer.id": "\(owner)", "reason": "\(reason)"])
    }

    // MARK: owner side

    /// The member's chunk `reference` points at, copied out of its memory.
    func copyPartChunk(_ reference: PartChunkReference, from peer: PeerID) -> Result<PartChunk, SameHostRefusal> {
        guard peers.processID(of: peer) != nil else {
            return .failure(SameHostRefusal("not proven to run on this machine"))
        }
        guard let limit = transport?.settings.maxMessageBytes, reference.memory.byteCount <= limit else {
            return .failure(SameHostRefusal("chunk of \(reference.memory.byteCount) bytes above the message limit"))
        }
        guard let bytes = copyOut(reference.memory, roundID: reference.roundID, from: peer) else {
            return .failure(SameHostRefusal("the chunk could not be copied"))
        }
        return .success(reference.chunk(bytes: bytes[...]))
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

    // MARK: copying

    /// The bytes at `memory` in the proven peer's process if its lease for `roundID` still held
    /// after they were copied; nil otherwise.
    private func copyOut(_ memory: MemoryReference, roundID: UInt64, from peer: PeerID) -> [UInt8]? {
        var copied = false
        let bytes = [UInt8](unsafeUninitializedCapacity: memory.byteCount) { buffer, initialised in
            copied = copyOut(memory, roundID: roundID, from: peer, into: UnsafeMutableRawBufferPointer(buffer))
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
    private func copyOut(_ memory: MemoryReference, roundID: UInt64, from peer: PeerID,
                      into destination: UnsafeMutableRawBufferPointer) -> Bool {
        guard let processID = peers.processID(of: peer), destination.count == memory.byteCount else { return false }
        do {
            try ProcessMemory.read(from: processID, at: memory.address, into: destination)
            guard try MemoryLease.holds(roundID: roundID, in: processID, at: memory.lease) else {
                logger.info("same-host copy came after the memory was let go", metadata: ["peer.id": "\(peer)"])
                return false
            }
            bytesCopied[roundID, default: 0] += memory.byteCount
            return true
        } catch where error.isUnmappedAddress {
            logger.info("same-host copy came after the memory was let go", metadata: ["peer.id": "\(peer)", "reason": "\(error)"])
            return false
        } catch where error.isProcessGone {
            peers.forget(peer)
            logger.info("same-host copy failed: the peer's process is gone", metadata: ["peer.id": "\(peer)"])
            return false
        } catch {
            peers.markUnavailable(peer, reason: "\(error)")
            logger.info("same-host copy failed, using the socket", metadata: ["peer.id": "\(peer)", "reason": "\(error)"])
            return false
        }
    }
}

/// Why this process will not copy a peer's memory, answered as a `sameHostRefused` error so
/// that the peer sends through the socket instead.
struct SameHostRefusal: Error {
    let reason: String

    init(_ reason: String) {
        self.reason = reason
    }

    var frame: Frame {
        Frame.refusal("same-host copy refused: \(reason)", code: TransportErrorCode.sameHostRefused)
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
