/// Error feedback for compressed averaging (Seide et al. 2014, "1-bit SGD"; Karimireddy et al.
/// 2019, EF-SGD): what the codec took from a member's contribution in one round is added to its
/// contribution in the next, so quantisation delays part of a gradient or pseudo-gradient instead
/// of losing it.
///
/// Only the parts a member sends to other owners travel compressed (its own part is averaged in
/// float32), and they travel chunk by chunk, each chunk encoded on its own; `prepare` encodes and
/// decodes the same chunks the round will send, so the residual it keeps is exactly what the
/// round's encoding takes away. The averages owners send back are quantised too, but every member
/// applies the same decoded average, so that error is shared and not this member's to carry.
///
/// The residual is private to the member, never part of the run's state: members keep agreeing
/// bit for bit on the averaged update.
public final class ErrorFeedback {
    public let elementCount: Int
    /// What earlier rounds' encodings took away and this member has not sent yet.
    private let residual: UnsafeMutableBufferPointer<Float>
    /// The residual of the round under way, kept until the round is known to have reached its owners.
    private let pending: UnsafeMutableBufferPointer<Float>
    /// The elements of the round under way, until it is known to have reached its owners or not.
    private var prepared: Range<Int>?

    public init(elementCount: Int) {
        precondition(elementCount >= 0, "a vector of \(elementCount) elements")
        self.elementCount = elementCount
        residual = .allocate(capacity: elementCount)
        residual.initialize(repeating: 0)
        pending = .allocate(capacity: elementCount)
        pending.initialize(repeating: 0)
    }

    deinit {
        residual.deallocate()
        pending.deallocate()
    }

    /// The largest residual magnitude carried.
    public var largestResidual: Float {
        residual.reduce(0) { max($0, abs($1)) }
    }

    /// Adds the carried residual to `vector`, this member's contribution to the round of `plan`
    /// (the elements from `offset` on: a round may average a fragment of the vector), and works
    /// out what encoding the parts that `ownIndex` sends to others with `compression` in chunks
    /// of `chunkSize` elements will take from it. A value whose residual is not finite carries
    /// nothing: a broken contribution is the round's to refuse, not a debt for the next.
    public func prepare(_ vector: UnsafeMutableBufferPointer<Float>, at offset: Int = 0, plan: GroupPlan, ownIndex: Int,
                        compression: Compression, chunkSize: Int) {
        precondition(offset >= 0 && offset + vector.count <= elementCount && plan.elementCount == vector.count,
                     "error feedback over \(elementCount) elements given \(vector.count) at \(offset) (plan: \(plan.elementCount))")
        precondition(plan.parts.indices.contains(ownIndex) && chunkSize > 0, "member \(ownIndex), chunks of \(chunkSize)")
        let residual = UnsafeMutableBufferPointer(rebasing: self.residual[offset..<offset + vector.count])
        let pending = UnsafeMutableBufferPointer(rebasing: self.pending[offset..<offset + vector.count])
        for index in vector.indices {
            vector[index] += residual[index]
            pending[index] = 0
        }
        prepared = offset..<offset + vector.count
        guard compression != .none else { return }
        let encoded = UnsafeMutableRawBufferPointer.allocate(byteCount: compression.encodedByteCount(elementCount: chunkSize), alignment: 8)
        let decoded = UnsafeMutableBufferPointer<Float>.allocate(capacity: chunkSize)
        defer {
            encoded.deallocate()
            decoded.deallocate()
        }
        for (part, range) in plan.parts.enumerated() where part != ownIndex {
            let layout = ChunkLayout(part: range, chunkSize: chunkSize)
            for chunk in 0..<layout.chunkCount {
                let elements = layout.elements(ofChunk: chunk)
                let sent = UnsafeMutableBufferPointer(rebasing: decoded[0..<elements.count])
                let written = compression.encode(UnsafeBufferPointer(rebasing: vector[elements]), into: encoded)
                compression.decode(UnsafeRawBufferPointer(rebasing: encoded[0..<written]), into: sent)
                for (position, index) in elements.enumerated() {
                    let lost = vector[index] - sent[position]
                    pending[index] = lost.isFinite ? lost : 0
                }
            }
        }
    }

    /// The prepared round reached its owners: what its encoding took is carried to the next round.
    public func roundDelivered() {
        guard let prepared else { return }
        for index in prepared { residual[index] = pending[index] }
        self.prepared = nil
    }

    /// The prepared round failed: its contribution was not averaged, and the residual it included
    /// stays owed.
    public func roundFailed() {
        prepared = nil
    }
}
