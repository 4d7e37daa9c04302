/// The owner's side of a butterfly all-reduce: checks every member's chunks of the owned part,
/// holds them until each chunk index is complete, then drops outliers and averages the rest,
/// weighted by sample counts (hivemind's `averaging/partition.py` reducer, with the checks of
/// issue 6 "Poisoned or broken contributions").
///
/// A chunk is checked twice. On arrival its decoding must be finite (`add` refuses it otherwise).
/// Once every expected sender's chunk k is in (or the rest are left out), its L2 norm must not
/// exceed `normBoundFactor` × the median norm of chunk k among the contributions in, the
/// owner's own included (`outliers(in:vector:)`). Where that median is zero (a chunk most
/// members leave untouched) it bounds nothing, so a sender's norm summed over all such chunks
/// may reach `zeroMedianBudgetFactor` × the owner's own norm of the whole part; what goes past
/// it is left out of the average, without blame. Otherwise one sender could make an honest
/// owner's average arbitrarily long there, and have the members skip the part and count the
/// owner. Blaming the sender instead had an honest one dropped, and banned at the third time,
/// wherever a hostile member's zeros and the owner's untouched rows made the median zero.
/// Holding contributions until then keeps the
/// reduction exact: nothing is added that might have to be taken out again. The memory held is
/// at most one encoded chunk per sender per open chunk index, which the sender's window bounds.
///
/// Weights are summed per chunk over the contributions reduced: a sender that fails, stalls or
/// is dropped is simply not in the chunks it did not deliver (or whose contributions were
/// discarded), and each chunk's average is divided by exactly the weight it received — the
/// renormalisation DESIGN.md asks for. A robust `Aggregation` instead decodes the chunk's
/// contributions side by side and reduces them with equal weights (`RobustAggregator`).
struct PartReducer {
    /// With fewer contributions than this (the owner's own included), a chunk's median norm says
    /// nothing about who is honest, so the norm bound is not applied. With three, one outlier
    /// cannot move the median; with two, the median is one of the two.
    static let minimumContributionsForNormBound = 3
    /// A sender's norm over the chunks whose median is zero may reach this many times the
    /// owner's norm of its part: an honest sender's rows that nobody else touched are about as
    /// long as a part's gradient, and at a capped weight share of one half what an attacker
    /// adds there stays about the owner's own norm, well inside the members' check of 10×.
    static let zeroMedianBudgetFactor = 2.0

    let layout: ChunkLayout
    let compression: Compression
    /// A contribution whose norm exceeds this many times the median is dropped.
    let normBoundFactor: Float
    /// Per member: sample count as a weight.
    private let weights: [Float]
    private let ownIndex: Int
    /// `received[sender * chunkCount + chunk]`: delivered (whether kept or discarded later).
    private var received: [Bool]
    /// `held[sender * chunkCount + chunk]`: a checked encoded chunk waiting for its chunk index
    /// to complete; nil once reduced or discarded.
    private var held: [ArraySlice<UInt8>?]
    /// `norms[sender * chunkCount + chunk]`: the L2 norm of the held chunk's decoding.
    private var norms: [Double]
    /// Per chunk: senders still expected.
    private var missing: [Int]
    private var finalised: [Bool]
    /// Per member: left out of every chunk it had not delivered.
    private var excluded: [Bool]
    private(set) var finalisedCount = 0
    /// The finalised averages as sent on the wire, chunk after chunk; empty without
    /// compression, where the owner's vector holds them as they are sent.
    private var encodedAverages: [UInt8]
    private let encodedChunkStride: Int
    /// Rows for a robust aggregation; nil for the mean.
    private var robust: RobustAggregator?

    /// Whether norms are compared per unit of weight (`AllReduceRound.Settings.normsGrowWithWeight`).
    let normsGrowWithWeight: Bool
    /// The scale of chunks whose median is zero: the owner's norm of its part, finite values
    /// only (`AllReduceRound.zeroMedianScale`).
    private let ownPartNorm: Double
    /// Per sender: the sum of squares of its kept chunks whose median was zero (as compared).
    private var squaresWhereMedianIsZero: [Double]

    init(layout: ChunkLayout, compression: Compression, aggregation: Aggregation, normBoundFactor: Float,
         weights: [Float], ownIndex: Int, ownPartNorm: Double, normsGrowWithWeight: Bool = false) {
        precondition(normBoundFactor >= 1, "norm bound factor \(normBoundFactor) would drop the median contribution")
        self.layout = layout
        self.compression = compression
        self.normBoundFactor = normBoundFactor
        self.normsGrowWithWeight = normsGrowWithWeight
        self.weights = weights
        self.ownIndex = ownIndex
        self.ownPartNorm = ownPartNorm
        squaresWhereMedianIsZero = Array(repeating: 0, count: weights.count)
        let chunkCount = layout.chunkCount
        received = Array(repeating: false, count: weights.count * chunkCount)
        held = Array(repeating: nil, count: weights.count * chunkCount)
        norms = Array(repeating: 0, count: weights.count * chunkCount)
        missing = Array(repeating: weights.count - 1, count: chunkCount)
        finalised = Array(repeating: false, count: chunkCount)
        excluded = Array(repeating: false, count: weights.count)
        encodedChunkStride = compression.encodedByteCount(elementCount: layout.chunkSize)
        let lastChunkBytes = chunkCount == 0
            ? 0 : compression.encodedByteCount(elementCount: layout.elements(ofChunk: chunkCount - 1).count)
        // Uninitialised: each chunk's range is written by `finalise` before `encodedAverage(of:)` reads it.
        let averagesByteCount = compression == .none ? 0 : max(0, chunkCount - 1) * encodedChunkStride + lastChunkBytes
        encodedAverages = [UInt8](unsafeUninitializedCapacity: averagesByteCount) { _, initialised in initialised = averagesByteCount }
        if aggregation != .mean {
            robust = RobustAggregator(aggregation: aggregation, capacity: weights.count,
                                      maxLength: min(layout.chunkSize, layout.part.count))
        }
    }

    var isDone: Bool { finalisedCount == layout.chunkCount }

    func isFinalised(_ chunk: Int) -> Bool { finalised[chunk] }

    /// Every expected sender's chunk is in or left out: the chunk can be judged and finalised.
    func isComplete(_ chunk: Int) -> Bool { !finalised[chunk] && missing[chunk] == 0 }

    func hasReceived(_ chunk: Int, from sender: Int) -> Bool {
        received[sender * layout.chunkCount + chunk]
    }

    /// Checks a sender's encoded chunk (its size already validated) and holds it until the chunk
    /// is complete. Returns why the chunk is refused — its decoding is not finite — or nil.
    /// A refused chunk is not received: the caller leaves its sender out.
    mutating func add(_ bytes: ArraySlice<UInt8>, chunk: Int, from sender: Int) -> ContributionFault? {
        precondition(!finalised[chunk] && !hasReceived(chunk, from: sender), "chunk \(chunk) from \(sender) added twice")
        let elementCount = layout.elements(ofChunk: chunk).count
        let compression = self.compression
        let (nonFinite, sumOfSquares) = bytes.withUnsafeBytes {
            compression.nonFiniteCountAndSumOfSquares($0, elementCount: elementCount)
        }
        let norm = sumOfSquares.squareRoot()
        guard nonFinite == 0 else { return .nonFinite(count: nonFinite) }
        let slot = sender * layout.chunkCount + chunk
        received[slot] = true
        held[slot] = bytes
        norms[slot] = norm
        missing[chunk] -= 1
        return nil
    }

    /// The senders of a complete chunk whose norm exceeds `normBoundFactor` × the median norm
    /// of the chunk's contributions (the owner's own included when finite), each with the
    /// reason. Nothing when fewer than `minimumContributionsForNormBound` contributions are in.
    /// Where the median is zero (a chunk most members leave untouched, like unseen embedding
    /// rows), nobody, but the contributions that would take their sender past its budget
    /// there are left out of the chunk (`leaveOutBeyondBudget`). Called once per chunk, before
    /// `finalise`: the contributions kept count towards the sender's later chunks.
    mutating func outliers(in chunk: Int, vector: UnsafeMutableBufferPointer<Float>) -> [(sender: Int, fault: ContributionFault)] {
        precondition(isComplete(chunk), "chunk \(chunk) judged with \(missing[chunk]) senders missing")
        let senders = heldSenders(of: chunk)
        let own = UnsafeBufferPointer(rebasing: vector[layout.elements(ofChunk: chunk)])
        let (ownNonFinite, ownNorm) = ContributionFault.nonFiniteCountAndNorm(of: own)
        // Owner's values that are not finite stay out of the average (`finalise`), and of the median.
        let ownNorms = ownNonFinite == 0 ? [scaled(ownNorm, of: ownIndex)] : []
        let sorted = (senders.map { scaled(norms[$0 * layout.chunkCount + chunk], of: $0) } + ownNorms).sorted()
        guard sorted.count >= Self.minimumContributionsForNormBound else { return [] }
        // The lower median: with n ≥ 3 contributions, fewer than half of them cannot raise it.
        let median = sorted[(sorted.count - 1) / 2]
        guard median > 0 else {
            leaveOutBeyondBudget(senders, chunk: chunk)
            return []
        }
        let bound = Double(normBoundFactor) * median
        return senders.compactMap { sender in
            let norm = scaled(norms[sender * layout.chunkCount + chunk], of: sender)
            guard norm > bound else { return nil }
            return (sender, .normAboveBound(norm: norm, median: median))
        }
    }

    /// Leaves out of a chunk whose median is zero each sender's contribution that would take its
    /// norm over such chunks past `zeroMedianBudgetFactor` × the owner's part norm. Nothing
    /// without a scale (an owner whose part and whole vector are zero).
    private mutating func leaveOutBeyondBudget(_ senders: [Int], chunk: Int) {
        let scale = scaled(ownPartNorm, of: ownIndex)
        guard scale.isFinite, scale > 0 else { return }
        let budget = Self.zeroMedianBudgetFactor * scale
        for sender in senders {
            let slot = sender * layout.chunkCount + chunk
            let norm = scaled(norms[slot], of: sender)
            if (squaresWhereMedianIsZero[sender] + norm * norm).squareRoot() > budget {
                held[slot] = nil
            } else {
                squaresWhereMedianIsZero[sender] += norm * norm
            }
        }
    }

    /// A contribution's norm as the bound compares it: per unit of weight when norms grow with it.
    private func scaled(_ norm: Double, of member: Int) -> Double {
        normsGrowWithWeight && weights[member] > 0 ? norm / Double(weights[member]) : norm
    }

    /// Stops expecting anything from `sender`; returns the chunks that are now complete. With
    /// `discardingHeld` its chunks held for open chunk indices are dropped too (a sender caught
    /// sending bad parts); without, they still count (a sender that failed or stalled after
    /// delivering them; a sender left out that way can still be caught by the norm bound). A
    /// sender is left out once: later calls return nothing, though they can still discard.
    mutating func leaveOut(_ sender: Int, discardingHeld: Bool) -> [Int] {
        if discardingHeld {
            for chunk in 0..<layout.chunkCount where !finalised[chunk] {
                held[sender * layout.chunkCount + chunk] = nil
            }
        }
        guard !excluded[sender] else { return [] }
        excluded[sender] = true
        var completed: [Int] = []
        for chunk in 0..<layout.chunkCount where !finalised[chunk] && !hasReceived(chunk, from: sender) {
            missing[chunk] -= 1
            if missing[chunk] == 0 {
                completed.append(chunk)
            }
        }
        return completed
    }

    /// Senders not left out that still owe a chunk that is not finalised.
    var sendersStillExpected: [Int] {
        weights.indices.filter { sender in
            sender != ownIndex && !excluded[sender]
                && (0..<layout.chunkCount).contains { !finalised[$0] && !hasReceived($0, from: sender) }
        }
    }

    /// Senders not left out that owe the oldest chunk not finalised: the ones holding the part
    /// up. A shell that streams chunks through a window sends chunk k only after earlier
    /// averages came back, so a live sender waiting on a stalled one has that chunk delivered.
    var sendersHoldingUp: [Int] {
        guard let oldest = finalised.firstIndex(of: false) else { return [] }
        return weights.indices.filter { $0 != ownIndex && !excluded[$0] && !hasReceived(oldest, from: $0) }
    }

    /// Reduces the chunk's held contributions and the owner's values into the owner's values
    /// and encodes the result. The owner's vector then holds the decoding of what it sends, so
    /// every member ends with bit-identical values.
    ///
    /// An owner never sends a value that is not finite, since members ban an owner at once for
    /// one (`AllReduceRound.rejectBadAverages`): its own values that are not finite (its
    /// training overflowed) are left out of the average, as a sender's would be, and an average
    /// value that overflows anyway is sent as zero. Finite contributions can still sum past
    /// `Float`'s range: values near its limit in a chunk the others leave at zero, whose median
    /// of zero lets no norm bound judge it, or an honest gradient that diverged, times its
    /// weight. With no contribution left the chunk's average is zero.
    mutating func finalise(_ chunk: Int, vector: UnsafeMutableBufferPointer<Float>) {
        precondition(isComplete(chunk), "chunk \(chunk) finalised with \(missing[chunk]) senders missing")
        finalised[chunk] = true
        finalisedCount += 1
        let average = UnsafeMutableBufferPointer(rebasing: vector[layout.elements(ofChunk: chunk)])
        let ownIsFinite = ContributionFault.nonFiniteCountAndNorm(of: UnsafeBufferPointer(average)).nonFinite == 0
        if !ownIsFinite {
            average.update(repeating: 0)
        }
        if robust == nil {
            reduceWeightedMean(chunk, into: average, includingOwn: ownIsFinite)
        } else {
            reduceRobustly(chunk, into: average, includingOwn: ownIsFinite)
        }
        Self.zeroNonFinite(average)
        encodeAverage(of: chunk, vector: vector)
    }

    /// Encodes the finalised average of `chunk` as it travels and keeps the decoding in the
    /// vector; again after a second stage wrote the average across groups there. Nothing to do
    /// without compression: the vector is what travels.
    mutating func encodeAverage(of chunk: Int, vector: UnsafeMutableBufferPointer<Float>) {
        precondition(finalised[chunk], "chunk \(chunk) is not finalised")
        guard compression != .none else { return }
        let average = UnsafeMutableBufferPointer(rebasing: vector[layout.elements(ofChunk: chunk)])
        let range = encodedRange(of: chunk, elementCount: average.count)
        let compression = self.compression
        encodedAverages.withUnsafeMutableBytes { bytes in
            let destination = UnsafeMutableRawBufferPointer(rebasing: bytes[range])
            compression.encode(UnsafeBufferPointer(average), into: destination)
            compression.decode(UnsafeRawBufferPointer(destination), into: average)
            // A block's scale can overflow for values near `Float`'s limit.
            if ContributionFault.nonFiniteCountAndNorm(of: UnsafeBufferPointer(average)).nonFinite > 0 {
                average.update(repeating: 0)
                compression.encode(UnsafeBufferPointer(average), into: destination)
                compression.decode(UnsafeRawBufferPointer(destination), into: average)
            }
        }
    }

    private static func zeroNonFinite(_ values: UnsafeMutableBufferPointer<Float>) {
        for index in values.indices where !values[index].isFinite {
            values[index] = 0
        }
    }

    /// The sample-weighted mean, summed in sender order into the owner's values.
    private mutating func reduceWeightedMean(_ chunk: Int, into average: UnsafeMutableBufferPointer<Float>, includingOwn: Bool) {
        var weight: Float = includingOwn ? weights[ownIndex] : 0
        for index in average.indices {
            average[index] *= weight
        }
        for sender in heldSenders(of: chunk) {
            let slot = sender * layout.chunkCount + chunk
            held[slot]!.withUnsafeBytes { compression.accumulate($0, weight: weights[sender], into: average) }
            held[slot] = nil
            weight += weights[sender]
        }
        guard weight > 0 else { return }
        for index in average.indices {
            average[index] /= weight
        }
    }

    /// The robust aggregation of the owner's values (row 0, unless left out) and the held
    /// contributions decoded in sender order, all weighted equally.
    private mutating func reduceRobustly(_ chunk: Int, into average: UnsafeMutableBufferPointer<Float>, includingOwn: Bool) {
        let compression = self.compression
        let first = includingOwn ? 1 : 0
        if includingOwn {
            robust!.fillRow(0, length: average.count) { row in _ = row.update(fromContentsOf: average) }
        }
        let senders = heldSenders(of: chunk)
        for (row, sender) in senders.enumerated() {
            let slot = sender * layout.chunkCount + chunk
            let bytes = held[slot]!
            held[slot] = nil
            robust!.fillRow(row + first, length: average.count) { row in
                bytes.withUnsafeBytes { compression.decode($0, into: row) }
            }
        }
        guard senders.count + first > 0 else { return }
        robust!.reduce(rowCount: senders.count + first, into: average)
    }

    /// The finalised average of `chunk` as it travels on the wire, for a compressed round (an
    /// uncompressed one sends the owner's values).
    func encodedAverage(of chunk: Int) -> ArraySlice<UInt8> {
        precondition(finalised[chunk], "chunk \(chunk) is not finalised")
        precondition(compression != .none, "an uncompressed round keeps its averages in the vector")
        return encodedAverages[encodedRange(of: chunk, elementCount: layout.elements(ofChunk: chunk).count)]
    }

    private func heldSenders(of chunk: Int) -> [Int] {
        weights.indices.filter { held[$0 * layout.chunkCount + chunk] != nil }
    }

    private func encodedRange(of chunk: Int, elementCount: Int) -> Range<Int> {
        let start = chunk * encodedChunkStride
        return start..<(start + compression.encodedByteCount(elementCount: elementCount))
    }
}
