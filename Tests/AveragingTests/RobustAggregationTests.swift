import Testing
@testable import Averaging

/// The robust aggregations (`Aggregation.trimmedMean`, `.centeredClip`): their kernels against
/// plain float64 references, their behaviour with and without an outlier, and their text form.
@Suite struct RobustAggregationTests {
    // MARK: References, written the obvious way in float64

    /// Per coordinate: sort, drop `trim` from each end, average the rest.
    static func referenceTrimmedMean(_ rows: [[Float]], trim: Int) -> [Double] {
        (0..<rows[0].count).map { element in
            let sorted = rows.map { Double($0[element]) }.sorted()
            let kept = sorted[trim..<(sorted.count - trim)]
            return kept.reduce(0, +) / Double(kept.count)
        }
    }

    static func referenceCenteredClip(_ rows: [[Float]], tau: Double, iterations: Int) -> [Double] {
        var center = referenceTrimmedMean(rows, trim: (rows.count - 1) / 2)
        func distance(_ row: [Float]) -> Double {
            zip(row, center).reduce(0) { $0 + (Double($1.0) - $1.1) * (Double($1.0) - $1.1) }.squareRoot()
        }
        let radius = tau * rows.map(distance).sorted()[(rows.count - 1) / 2]
        for _ in 0..<iterations {
            let weights = rows.map { row in min(1, radius / distance(row)) }
            for element in center.indices {
                let pull = rows.indices.reduce(0.0) { $0 + weights[$1] * (Double(rows[$1][element]) - center[element]) }
                center[element] += pull / Double(rows.count)
            }
        }
        return center
    }

    static func mean(_ rows: [[Float]]) -> [Double] {
        (0..<rows[0].count).map { element in rows.reduce(0.0) { $0 + Double($1[element]) } / Double(rows.count) }
    }

    static func distance(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    }

    /// Runs `aggregation` over `rows` through the owner's buffers.
    static func aggregate(_ rows: [[Float]], _ aggregation: Aggregation) -> [Double] {
        let length = rows[0].count
        var aggregator = RobustAggregator(aggregation: aggregation, capacity: rows.count + 2, maxLength: length + 5)
        for (index, row) in rows.enumerated() {
            aggregator.fillRow(index, length: length) { _ = $0.update(fromContentsOf: row) }
        }
        var output = [Float](repeating: .nan, count: length)
        output.withUnsafeMutableBufferPointer { aggregator.reduce(rowCount: rows.count, into: $0) }
        return output.map(Double.init)
    }

    /// `count` honest rows around a common gradient (noise of `spread` per value) in [-1, 1].
    static func honestRows(count: Int, length: Int, spread: Float, random: inout SeededRandom) -> [[Float]] {
        let gradient = (0..<length).map { _ in Float.random(in: -1...1, using: &random) }
        return (0..<count).map { _ in gradient.map { $0 + Float.random(in: -spread...spread, using: &random) } }
    }

    // MARK: Kernels against the references

    @Test(arguments: [(3, 1), (5, 1), (5, 2), (8, 2), (12, 3), (7, 0)])
    func trimmedMeanMatchesSortingEveryCoordinate(rowCount: Int, trim: Int) {
        var random = SeededRandom(seed: UInt64(rowCount * 10 + trim))
        // 1,000 values: 62 whole blocks and a tail of 8, so the padding is exercised.
        let rows = (0..<rowCount).map { _ in (0..<1_000).map { _ in Float.random(in: -100...100, using: &random) } }
        let fraction = (Double(trim) + 0.5) / Double(rowCount)
        #expect(Aggregation.trimCount(fraction: fraction, contributions: rowCount) == trim)
        let aggregation: Aggregation = trim == 0 ? .trimmedMean(fraction: 0.1) : .trimmedMean(fraction: fraction)
        let result = Self.aggregate(rows, aggregation)
        let expected = Self.referenceTrimmedMean(rows, trim: trim)
        for element in expected.indices {
            #expect(abs(result[element] - expected[element]) <= 1e-4, "element \(element)")
        }
    }

    @Test(arguments: [2, 3, 4, 5, 9])
    func centeredClipMatchesTheIterationWrittenOut(rowCount: Int) {
        var random = SeededRandom(seed: UInt64(100 + rowCount))
        var rows = Self.honestRows(count: rowCount, length: 333, spread: 0.5, random: &random)
        rows[rowCount - 1] = rows[rowCount - 1].map { $0 * 40 }
        let result = Self.aggregate(rows, .centeredClip(tau: 1.5, iterations: 4))
        let expected = Self.referenceCenteredClip(rows, tau: 1.5, iterations: 4)
        for element in expected.indices {
            #expect(abs(result[element] - expected[element]) <= 1e-3, "element \(element)")
        }
    }

    @Test func centeredClipWithARadiusAboveEveryDistanceIsTheMeanAfterOneIteration() {
        var random = SeededRandom(seed: 7)
        let rows = (0..<6).map { _ in (0..<200).map { _ in Float.random(in: -1...1, using: &random) } }
        let result = Self.aggregate(rows, .centeredClip(tau: Aggregation.maximumClipTau, iterations: 1))
        #expect(Self.distance(result, Self.mean(rows)) <= 1e-5)
    }

    @Test func withOneRowTheResultIsThatRow() {
        let row: [Float] = (0..<40).map { Float($0) - 20 }
        for aggregation in [Aggregation.trimmedMean(fraction: 0.4), .centeredClip(tau: 1, iterations: 3)] {
            #expect(Self.aggregate([row], aggregation) == row.map(Double.init))
        }
    }

    // MARK: Behaviour

    @Test(arguments: [Aggregation.trimmedMean(fraction: 0.25), .centeredClip(tau: 1, iterations: 5)])
    func withoutOutliersTheResultIsCloseToTheMean(aggregation: Aggregation) {
        var random = SeededRandom(seed: 21)
        let rows = Self.honestRows(count: 5, length: 4_096, spread: 0.05, random: &random)
        let mean = Self.mean(rows)
        // The honest rows differ from the mean by about 0.05/√3 per value; a robust aggregate
        // stays well within that of the mean.
        let spread = rows.map { Self.distance($0.map(Double.init), mean) }.max()!
        #expect(Self.distance(Self.aggregate(rows, aggregation), mean) <= 0.5 * spread)
    }

    @Test(arguments: [Aggregation.trimmedMean(fraction: 0.25), .centeredClip(tau: 1, iterations: 5)],
          ["scaled", "random"])
    func oneHugeOutlierAmongFiveMovesTheResultLittle(aggregation: Aggregation, attack: String) {
        var random = SeededRandom(seed: 22)
        var rows = Self.honestRows(count: 5, length: 4_096, spread: 0.05, random: &random)
        let honestMean = Self.mean(Array(rows[0..<4]))
        rows[4] = attack == "scaled"
            ? rows[4].map { $0 * -1_000 }
            : rows[4].map { _ in Float.random(in: -1e4...1e4, using: &random) }
        let spread = rows[0..<4].map { Self.distance($0.map(Double.init), honestMean) }.max()!
        let robustError = Self.distance(Self.aggregate(rows, aggregation), honestMean)
        let meanError = Self.distance(Self.mean(rows), honestMean)
        #expect(robustError <= spread, "robust \(robustError), honest spread \(spread)")
        #expect(meanError > 1_000 * spread, "the plain mean moves with the outlier: \(meanError)")
    }

    // MARK: In a round

    /// Five members (one in client mode, owning no part), member 3 sending values scaled by
    /// 500 with the norm bound off: every member ends with the same values, each chunk the
    /// robust aggregate of the five members' chunks.
    @Test(arguments: [Aggregation.trimmedMean(fraction: 0.2), .centeredClip(tau: 1, iterations: 3)],
          [Compression.none, .float16])
    func everyMemberEndsWithTheOwnersRobustAggregate(aggregation: Aggregation, compression: Compression) throws {
        var random = SeededRandom(seed: 31)
        let members = (0..<5).map { (index: Int) -> Declaration in
            declaration(peerID(UInt8(index + 1)), clientMode: index == 4, samples: UInt64(index + 1))
        }
        let plan = try #require(GroupPlan(step: 41, elementCount: 1_000, members: members))
        var vectors = Self.honestRows(count: 5, length: 1_000, spread: 0.1, random: &random)
        vectors[3] = vectors[3].map { $0 * 500 }
        var settings = AllReduceRound.Settings(compression: compression, chunkSize: 70)
        settings.aggregation = aggregation
        settings.normBoundFactor = .infinity
        var group = SimulatedGroup(plan: plan, vectors: vectors, settings: settings, seed: 32)
        group.run()
        // What each owner aggregates: its own values exactly, the others' after the codec.
        var expected = [Double](repeating: 0, count: 1_000)
        for (owner, part) in plan.parts.enumerated() {
            for chunk in stride(from: part.lowerBound, to: part.upperBound, by: 70) {
                let elements = chunk..<min(chunk + 70, part.upperBound)
                let rows = vectors.indices.map { member in
                    member == owner ? Array(vectors[member][elements]) : Self.roundTrip(Array(vectors[member][elements]), compression)
                }
                let aggregate = switch aggregation {
                case .centeredClip(let tau, let iterations): Self.referenceCenteredClip(rows, tau: tau, iterations: iterations)
                default: Self.referenceTrimmedMean(rows, trim: 1)
                }
                expected.replaceSubrange(elements, with: aggregate)
            }
        }
        let tolerance = compression == .none ? 1e-4 : 2e-3
        for member in group.members {
            #expect(member.result?.isComplete == true)
            #expect(member.result?.leftOut.isEmpty == true)
            for element in 0..<1_000 {
                #expect(abs(Double(member.vector[element]) - expected[element]) <= tolerance, "element \(element)")
                #expect(member.vector[element] == group.members[0].vector[element])
            }
        }
    }

    static func roundTrip(_ values: [Float], _ compression: Compression) -> [Float] {
        var bytes = [UInt8](repeating: 0, count: compression.encodedByteCount(elementCount: values.count))
        var decoded = values
        bytes.withUnsafeMutableBytes { bytes in
            values.withUnsafeBufferPointer { _ = compression.encode($0, into: bytes) }
            decoded.withUnsafeMutableBufferPointer { compression.decode(UnsafeRawBufferPointer(bytes), into: $0) }
        }
        return decoded
    }

    @Test func theOwnersChecksStillDropANonFiniteSender() {
        var group = PartCheckTests.groupWithBadSender(compression: .none, seed: 33, aggregation: .trimmedMean(fraction: 0.25)) {
            $0.map { $0 > 0.9 ? .nan : $0 }
        }
        group.run()
        for member in group.members[0..<4] {
            #expect(member.result?.dropped.map(\.peer) == [peerID(5)])
            #expect(member.result?.dropped.first?.reason.contains("non-finite values") == true)
        }
        #expect(!group.contributions.contains { $0[0] == 4 })
    }

    // MARK: Text form

    @Test func textFormRoundTripsAndFillsDefaults() throws {
        for aggregation in [Aggregation.mean, .trimmedMean(fraction: 0.2), .centeredClip(tau: 2.5, iterations: 7)] {
            #expect(try Aggregation(parsing: aggregation.description) == aggregation)
        }
        #expect(try Aggregation(parsing: "trimmed-mean") == .trimmedMean(fraction: Aggregation.defaultTrimFraction))
        #expect(try Aggregation(parsing: "centered-clip:iterations=3")
            == .centeredClip(tau: Aggregation.defaultClipTau, iterations: 3))
    }

    @Test(arguments: [
        ("median", "is not mean, trimmed-mean or centered-clip"),
        ("trimmed-mean:fraction=0.5", "trim fraction 0.5 must be above 0 and below 0.5"),
        ("trimmed-mean:fraction=0", "trim fraction 0.0 must be above 0"),
        ("trimmed-mean:tau=1", "trimmed-mean has no parameter \"tau\""),
        ("centered-clip:tau=-1", "clip tau -1.0 must be above 0"),
        ("centered-clip:iterations=2.5", "iterations must be a whole number"),
        ("centered-clip:iterations=0", "clip iterations 0 must be between 1 and 100"),
        ("centered-clip:tau", "\"tau\" is not name=number"),
        ("centered-clip:tau=nan", "\"tau=nan\" is not name=number"),
        ("centered-clip:tau=1,tau=2", "\"tau\" is given twice"),
    ])
    func badTextIsRefusedWithTheReason(text: String, reason: String) {
        #expect {
            try Aggregation(parsing: text)
        } throws: { error in
            "\(error)".contains(reason) && "\(error)".hasPrefix("aggregation \"\(text)\"")
        }
    }
}
