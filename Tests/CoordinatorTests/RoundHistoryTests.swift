import Foundation
import Testing
@testable import Coordinator

@Suite struct RoundHistoryTests {
    static func round(_ step: Int) -> CoordinatorStatus.Round {
        .init(step: step, members: 2 + step % 3, samples: 20 + step % 7, durationSeconds: 0.5,
              loss: step % 10 == 3 ? .nan : 3 - Double(step) / 1_000, samplesPerSecond: 40 + Double(step % 5),
              bytesSent: 10, bytesReceived: 10, failedParts: step % 11 == 0 ? 1 : 0, note: "", recordedAtMilliseconds: 1)
    }

    @Test func theWindowHoldsTheNewestRoundsAndTotalsCountEveryRound() {
        let rounds = (5..<2_505).map(Self.round)
        let history = RoundHistory(rounds: rounds, windowSize: 100)
        #expect(history.window.map(\.step) == Array(2_405..<2_505))
        #expect(history.roundCount == 2_500)
        #expect(history.sampleCount == rounds.map(\.samples).reduce(0, +))
        #expect(history.failedPartCount == rounds.map(\.failedParts).reduce(0, +))
        #expect(history.firstStep == 5)
        #expect(history.lastStep == 2_504)
    }

    @Test func aWindowLargerThanTheRunHoldsEveryRound() {
        let history = RoundHistory(rounds: (0..<7).map(Self.round), windowSize: 10)
        #expect(history.window.map(\.step) == Array(0..<7))
    }

    @Test func theStatusShowsTheWindowAndTheWholeRunsTotals() {
        var status = SampleStatuses.realistic()
        status.show(RoundHistory(rounds: (0..<50).map(Self.round), windowSize: 8))
        #expect(status.rounds.map(\.step) == Array(42..<50))
        #expect(status.roundsTotal == 50)
        #expect(status.firstStep == 0 && status.lastStep == 49)
        #expect(status.samplesTotal == (0..<50).map { Self.round($0).samples }.reduce(0, +))
        #expect(status.lossPlot.count == 45)
        #expect(status.throughputPlot.count == 50)
    }
}

@Suite struct DownsampledSeriesTests {
    @Test func fewPointsAreKeptExactly() {
        var series = DownsampledSeries(maximumBuckets: 8)
        for step in 0..<8 { series.append(step: Double(step), value: Double(step * step)) }
        #expect(series.points == (0..<8).map { .init(step: Double($0), value: Double($0 * $0)) })
        #expect(series.bucketWidth == 1)
    }

    @Test(arguments: [9, 100, 1_000, 100_000])
    func anyNumberOfPointsPlotsWithinTheBoundAndEndsOnTheNewestPoint(count: Int) {
        var series = DownsampledSeries(maximumBuckets: 256)
        for step in 0..<count { series.append(step: Double(step), value: sin(Double(step))) }
        let points = series.points
        #expect(points.count <= 257)
        #expect(points.last == .init(step: Double(count - 1), value: sin(Double(count - 1))))
        #expect(zip(points, points.dropFirst()).allSatisfy { $0.step < $1.step })
    }

    @Test func bucketsHoldTheMeansOfConsecutivePoints() {
        var series = DownsampledSeries(maximumBuckets: 4)
        // 10 points: buckets of width 4 after two merges: [0…3], [4…7], then [8, 9] and the newest.
        for step in 0..<10 { series.append(step: Double(step), value: Double(10 * step)) }
        #expect(series.bucketWidth == 4)
        #expect(series.points == [.init(step: 1.5, value: 15), .init(step: 5.5, value: 55),
                                  .init(step: 8.5, value: 85), .init(step: 9, value: 90)])
    }

    @Test func nonFiniteValuesAreLeftOut() {
        var series = DownsampledSeries(maximumBuckets: 4)
        series.append(step: 0, value: 1)
        series.append(step: 1, value: .nan)
        series.append(step: 2, value: .infinity)
        series.append(step: 3, value: 2)
        #expect(series.points == [.init(step: 0, value: 1), .init(step: 3, value: 2)])
    }
}
