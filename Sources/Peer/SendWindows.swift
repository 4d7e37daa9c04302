import CohortBase
import Averaging
import NIOCore

/// A member's chunks on their way to each owner in one round: the ones not sent yet, in the
/// order the round emitted them, and how many are in flight, so that at most a window's worth
/// is (`AllReduceDriver.sendParts`).
struct SendWindows {
    private var unsent: [PeerID: CircularBuffer<AllReduceRound.ChunkReference>] = [:]
    private var inFlight: [PeerID: Int] = [:]
    /// Owners whose link was full, with a retry scheduled.
    private var retrying: Set<PeerID> = []

    mutating func queue(_ reference: AllReduceRound.ChunkReference, to owner: PeerID) {
        unsent[owner, default: []].append(reference)
    }

    /// Puts a chunk that has to go again at the head of `owner`'s queue.
    mutating func requeue(_ reference: AllReduceRound.ChunkReference, to owner: PeerID) {
        unsent[owner, default: []].prepend(reference)
    }

    /// The next chunk to send `owner`, counted in flight, while fewer than `window` are.
    mutating func next(to owner: PeerID, window: Int) -> AllReduceRound.ChunkReference? {
        guard inFlight[owner, default: 0] < window, let reference = unsent[owner]?.popFirst() else { return nil }
        inFlight[owner, default: 0] += 1
        return reference
    }

    /// A chunk sent to `owner` was answered, whichever way.
    mutating func onAnswered(by owner: PeerID) {
        inFlight[owner, default: 1] -= 1
    }

    /// Forgets the chunks not sent to `owner`: it failed, or is past the round.
    mutating func dropUnsent(to owner: PeerID) {
        unsent[owner] = nil
    }

    /// Whether a retry for `owner` is to be scheduled: false while one already is.
    mutating func startRetry(to owner: PeerID) -> Bool {
        retrying.insert(owner).inserted
    }

    mutating func endRetry(to owner: PeerID) {
        retrying.remove(owner)
    }
}
