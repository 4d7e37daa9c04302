import Foundation

extension SVGPlot {
    /// A line with a shaded band around it, e.g. the mean of several seeds between their
    /// minimum and maximum. A point with a nil middle is a gap.
    public struct Band: Sendable {
        public let name: String
        public let points: [(x: Double, low: Double, middle: Double?, high: Double)]

        public init(name: String, points: [(x: Double, low: Double, middle: Double?, high: Double)]) {
            self.name = name
            self.points = points
        }
    }

    /// Lines with bands over a linear x axis (samples seen, steps). Bands are drawn first, at low
    /// opacity, so every line stays visible on top of the others' bands.
    public static func bands(_ series: [Band], labels: Labels) -> String {
        let present = series.flatMap { $0.points.filter { $0.middle != nil } }
        let (low, high) = paddedRange(present.flatMap { [$0.low, $0.high] })
        let xs = present.map(\.x)
        let xRange = (xs.min() ?? 0)...max(xs.max() ?? 1, (xs.min() ?? 0) + 1)
        let frame = Frame(xRange: xRange, yRange: low...high)
        var body = frame.axes(labels: labels, yTicks: ticks(low...high))
        for tick in ticks(xRange) { body += frame.xTick(at: tick, label: format(tick)) }
        for (index, band) in series.enumerated() {
            let colour = colours[index % colours.count]
            for run in bandRuns(band.points) where run.count > 1 && run.contains(where: { $0.high > $0.low }) {
                let outline = run.map { "\(frame.x($0.x)),\(frame.y($0.high))" } + run.reversed().map { "\(frame.x($0.x)),\(frame.y($0.low))" }
                body += #"<polygon fill="\#(colour)" fill-opacity="0.18" stroke="none" points="\#(outline.joined(separator: " "))"/>"# + "\n"
            }
        }
        for (index, band) in series.enumerated() {
            let colour = colours[index % colours.count]
            for run in contiguousRuns(band.points.map { (x: $0.x, y: $0.middle) }) {
                let path = run.map { "\(frame.x($0.x)),\(frame.y($0.y))" }.joined(separator: " ")
                body += #"<polyline fill="none" stroke="\#(colour)" stroke-width="2" points="\#(path)"/>"# + "\n"
            }
            body += legendEntry(index: index, name: band.name, colour: colour)
        }
        return document(body)
    }

    /// Runs of consecutive points that have a middle value, keeping their band.
    static func bandRuns(_ points: [(x: Double, low: Double, middle: Double?, high: Double)]) -> [[(x: Double, low: Double, high: Double)]] {
        var runs: [[(x: Double, low: Double, high: Double)]] = [[]]
        for point in points {
            if point.middle != nil {
                runs[runs.count - 1].append((point.x, point.low, point.high))
            } else if !runs[runs.count - 1].isEmpty {
                runs.append([])
            }
        }
        return runs.filter { !$0.isEmpty }
    }
}
