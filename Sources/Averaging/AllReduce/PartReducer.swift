/// The owner's side of a butterfly all-reduce: accumulates every member's chunks of the owned
/// part, weighted by sample counts, and finalises each chunk's average as soon as it is complete
/// (hivemind's `averaging/partition.py` reducer does the same per part).
///
/// The weighted sum builds up in place in the owner's own vector (its own values are scaled by
/// its weight at the start), so no accumulator is allocated and each chunk is reduced straight
/// from its wire bytes as it arrives. Weights are summed per chunk: a sender that fails or
/// stalls is simply never added to the chunks it did not deliver, and each chunk's average is
/// divided by exactly the weight it received — the renormalisation DESIGN.md asks for.
struct PartReducer {
    let layout: ChunkLayout
    let compression: Compression
    /// Per member: sample count as a weight.
    private let weights: [Float]
    private let ownIndex: Int
    /// `received[sender * chunkCount + chunk]`.
    private var received: [Bool]
    /// Per chunk: senders still expected.
    private var missing: [Int]
    /// Per chunk: weight accumulated so far (the owner's own from the start).
    private var weightSum: [Float]
    private var finalised: [Bool]
    /// Per member: left out of every chunk it had not delivered.
    private var excluded: [Bool]
    private(set) var finalisedCount = 0
    /// The finalised averages as sent on the wire, chunk after chunk.
    private var encodedAverages: [UInt8]
    private let encodedChunkStride: Int

    init(layout: ChunkLayout, compression: Compression, weights: [Float], ownIndex: Int, vector: UnsafeMutableBufferPointer<Float>) {
        self.layout = layout
        self.compression = compression
        self.weights = weights
        self.ownIndex = ownIndex
        let chunkCount = layout.chunkCount
        received = Array(repeating: false, count: weights.count * chunkCount)
        missing = Array(repeating: weights.count - 1, count: chunkCount)
        weightSum = Array(repeating: weights[ownIndex], count: chunkCount)
        finalised = Array(repeating: false, count: chunkCount)
        excluded = Array(repeating: false, count: weights.count)
        encodedChunkStride = compression.encodedByteCount(elementCount: layout.chunkSize)
        let lastChunkBytes = chunkCount == 0
            ? 0 : compression.encodedByteCount(elementCount: layout.elements(ofChunk: chunkCount - 1).count)
        encodedAverages = Array(repeating: 0, count: max(0, chunkCount - 1) * encodedChunkStride + lastChunkBytes)
        let own = UnsafeMutableBufferPointer(rebasing: vector[layout.part])
        for index in own.indices {
            own[index] *= weights[ownIndex]
        }
    }

    var isDone: Bool { finalisedCount == layout.chunkCount }

    func isFinalised(_ chunk: Int) -> Bool { finalised[chunk] }

    func hasReceived(_ chunk: Int, from sender: Int) -> Bool {
        received[sender * layout.chunkCount + chunk]
    }

    /// Adds a sender's encoded chunk (already validated) to the sum. Returns true when the chunk
    /// is now complete and must be finalised.
    mutating func add(_ bytes: UnsafeRawBufferPointer, chunk: Int, from sender: Int, vector: UnsafeMutableBufferPointer<Float>) -> Bool {
        precondition(!finalised[chunk] && !hasReceived(chunk, from: sender), "chunk \(chunk) from \(sender) added twice")
        received[sender * layout.chunkCount + chunk] = true
        let target = UnsafeMutableBufferPointer(rebasing: vector[layout.elements(ofChunk: chunk)])
        compression.accumulate(bytes, weight: weights[sender], into: target)
        weightSum[chunk] += weights[sender]
        missing[chunk] -= 1
        return missing[chunk] == 0
    }

    /// Stops expecting anything from `sender`; returns the chunks that are now complete. A
    /// sender is left out once: later calls return nothing.
    mutating func leaveOut(_ sender: Int) -> [Int] {
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

    /// Divides the chunk's sum by its weight and encodes the average. The owner's vector then
    /// holds the decoding of what it sends, so every member ends with bit-identical values.
    mutating func finalise(_ chunk: Int, vector: UnsafeMutableBufferPointer<Float>) {
        precondition(!finalised[chunk] && missing[chunk] == 0, "chunk \(chunk) finalised with \(missing[chunk]) senders missing")
        finalised[chunk] = true
        finalisedCount += 1
        let average = UnsafeMutableBufferPointer(rebasing: vector[layout.elements(ofChunk: chunk)])
        let weight = weightSum[chunk]
        for index in average.indices {
            average[index] /= weight
        }
        let range = encodedRange(of: chunk, elementCount: average.count)
        encodedAverages.withUnsafeMutableBytes { bytes in
            let destination = UnsafeMutableRawBufferPointer(rebasing: bytes[range])
            compression.encode(UnsafeBufferPointer(average), into: destination)
            if compression != .none {
                compression.decode(UnsafeRawBufferPointer(destination), into: average)
            }
        }
    }

    /// The finalised average of `chunk` as it travels on the wire.
    func encodedAverage(of chunk: Int) -> ArraySlice<UInt8> {
        precondition(finalised[chunk], "chunk \(chunk) is not finalised")
        return encodedAverages[encodedRange(of: chunk, elementCount: layout.elements(ofChunk: chunk).count)]
    }

    private func encodedRange(of chunk: Int, elementCount: Int) -> Range<Int> {
        let start = chunk * encodedChunkStride
        return start..<(start + compression.encodedByteCount(elementCount: elementCount))
    }
}
