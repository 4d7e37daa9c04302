import CohortBase
import Averaging

/// All-reduce chunks that arrived before this member formed the round they belong to, each
/// with what answers it (`Waiting`), held until the member's next round starts.
///
/// Bounded in total and per sender, so that a peer sending chunks for rounds that never form
/// fills only its own share and the others' early chunks are still held. An honest member
/// sends an owner at most its send window before the owner's round starts
/// (`AllReduceDriver.sendParts`: at most 64 requests, and half of a 4 MiB send buffer in bytes,
/// which holds two of the largest chunks, 2¹⁸ float32 values); a share holds two windows, one
/// for a round this owner did not join and one for the next.
struct EarlyChunks<Waiting> {
    struct Limits {
        var maxChunks = 4096
        var maxBytes = 64 << 20
        var maxChunksPerSender = 128
        var maxBytesPerSender = 4 << 20
    }

    private struct Share {
        var chunks = 0
        var bytes = 0
    }

    let limits: Limits
    private var held: [(chunk: PartChunk, waiting: Waiting)] = []
    private var bytes = 0
    private var shares: [PeerID: Share] = [:]

    init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Holds `chunk` unless that takes the buffer or its sender's share past the limits;
    /// returns whether it did.
    mutating func hold(_ chunk: PartChunk, waiting: Waiting) -> Bool {
        let size = chunk.bytes.count
        let share = shares[chunk.sender] ?? Share()
        guard share.chunks < limits.maxChunksPerSender, share.bytes + size <= limits.maxBytesPerSender,
              held.count < limits.maxChunks, bytes + size <= limits.maxBytes else { return false }
        held.append((chunk, waiting))
        bytes += size
        shares[chunk.sender, default: Share()].chunks += 1
        shares[chunk.sender, default: Share()].bytes += size
        return true
    }

    /// Removes the chunks for steps before `step`, returning them in the order they arrived.
    mutating func removeAll(before step: UInt64) -> [(chunk: PartChunk, waiting: Waiting)] {
        let removed = held.filter { $0.chunk.step < step }
        guard !removed.isEmpty else { return [] }
        held.removeAll { $0.chunk.step < step }
        for (chunk, _) in removed {
            bytes -= chunk.bytes.count
            shares[chunk.sender]!.chunks -= 1
            shares[chunk.sender]!.bytes -= chunk.bytes.count
            if shares[chunk.sender]!.chunks == 0 { shares[chunk.sender] = nil }
        }
        return removed
    }

    /// Empties the buffer, returning what it held in the order it arrived.
    mutating func removeAll() -> [(chunk: PartChunk, waiting: Waiting)] {
        defer {
            held = []
            bytes = 0
            shares = [:]
        }
        return held
    }
}
