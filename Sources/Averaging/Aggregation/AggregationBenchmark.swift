/// Measures what an owner spends on one chunk of its part, for `cohort bench aggregation`: the
/// checks on every arriving contribution, the norm bound, the aggregation and the encoding of
/// the result — the same `PartReducer` calls a round makes.
public enum AggregationBenchmark {
    public struct Result: Sendable {
        /// Owner time per chunk, the median over the chunks timed (a shared machine preempts
        /// some of them; the median ignores those).
        public let secondsPerChunk: Double
        /// The same, per value received (members × chunk size values per chunk).
        public let nanosecondsPerValue: Double
        public let chunks: Int
    }

    /// Reduces chunks of `chunkSize` random values from `members` members (the owner included)
    /// for about `seconds` of timed work (at least 3 chunks), after one untimed chunk. Each chunk
    /// gets a fresh reducer, built outside the timed part.
    public static func measure(aggregation: Aggregation, members: Int, chunkSize: Int, compression: Compression = .none,
                               seconds: Double) -> Result {
        precondition(members >= 2 && chunkSize >= 1 && seconds > 0, "\(members) members, chunks of \(chunkSize), \(seconds) s")
        precondition(aggregation.problem == nil, "aggregation \(aggregation): \(aggregation.problem ?? "")")
        var random = SystemRandomNumberGenerator()
        var own = (0..<chunkSize).map { _ in Float.random(in: -1...1, using: &random) }
        let encoded: [ArraySlice<UInt8>] = (1..<members).map { _ in
            let values = (0..<chunkSize).map { _ in Float.random(in: -1...1, using: &random) }
            var bytes = [UInt8](repeating: 0, count: compression.encodedByteCount(elementCount: chunkSize))
            bytes.withUnsafeMutableBytes { bytes in values.withUnsafeBufferPointer { _ = compression.encode($0, into: bytes) } }
            return bytes[...]
        }
        let layout = ChunkLayout(part: 0..<chunkSize, chunkSize: chunkSize)
        let ownNorm = own.withUnsafeBufferPointer { ContributionFault.nonFiniteCountAndNorm(of: $0).norm }
        let weights = [Float](repeating: 1, count: members)
        let clock = ContinuousClock()
        var elapsed = Duration.zero
        var times: [Duration] = []
        var warmedUp = false
        while times.count < 3 || elapsed < .milliseconds(Int64(seconds * 1000)) {
            var reducer = PartReducer(layout: layout, compression: compression, aggregation: aggregation, normBoundFactor: 10,
                                      weights: weights, ownIndex: 0, ownPartNorm: ownNorm)
            let start = clock.now
            own.withUnsafeMutableBufferPointer { vector in
                for sender in 1..<members {
                    _ = reducer.add(encoded[sender - 1], chunk: 0, from: sender)
                }
                _ = reducer.outliers(in: 0, vector: vector)
                reducer.finalise(0, vector: vector)
            }
            let time = clock.now - start
            if warmedUp {
                times.append(time)
                elapsed += time
            }
            warmedUp = true
        }
        let median = times.sorted()[times.count / 2]
        let perChunk = Double(median.components.seconds) + Double(median.components.attoseconds) * 1e-18
        return Result(secondsPerChunk: perChunk, nanosecondsPerValue: perChunk / Double(members * chunkSize) * 1e9,
                      chunks: times.count)
    }
}
