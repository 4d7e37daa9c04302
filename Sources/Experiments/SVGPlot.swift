import Foundation

/// A small SVG writer for the experiments' figures: a line plot and a grouped bar plot, drawn
/// by the program itself so that a results file and its figures come from one run with no
/// plotting dependency.
public enum SVGPlot {
    public struct Series: Sendable {
        public let name: String
        /// Points with a nil y are gaps (e.g. a model that cannot run at that context).
        public let points: [(x: Double, y: Double?)]

        public init(name: String, points: [(x: Double, y: Double?)]) {
            self.name = name
            self.points = points
        }
    }

    public struct Labels: Sendable {
        public let title: String
        public let x: String
        public let y: String

        public init(title: String, x: String, y: String) {
            self.title = title
            self.x = x
            self.y = y
        }
    }

    static let width = 640.0, height = 400.0
    static let margin = (left: 70.0, right: 170.0, top: 40.0, bottom: 55.0)
    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

    /// Lines over a base-2 logarithmic x axis (context lengths double from tick to tick).
    public static func lines(_ series: [Series], labels: Labels, xTicks: [Double]) -> String {
        let ys = series.flatMap { $0.points.compactMap(\.y) }
        let (low, high) = paddedRange(ys)
        let xLow = log2(xTicks.first ?? 1), xHigh = log2(xTicks.last ?? 2)
        let frame = Frame(xRange: xLow...max(xHigh, xLow + 1), yRange: low...high)
        var body = frame.axes(labels: labels, yTicks: ticks(low...high))
        for tick in xTicks {
            body += frame.xTick(at: log2(tick), label: format(tick))
        }
        for (index, line) in series.enumerated() {
            let colour = colours[index % colours.count]
            for run in contiguousRuns(line.points) {
                let path = run.map { "\(frame.x(log2($0.x))),\(frame.y($0.y))" }.joined(separator: " ")
                body += #"<polyline fill="none" stroke="\#(colour)" stroke-width="2" points="\#(path)"/>"# + "\n"
                for point in run {
                    body += #"<circle cx="\#(frame.x(log2(point.x)))" cy="\#(frame.y(point.y))" r="3" fill="\#(colour)"/>"# + "\n"
                }
            }
            body += legendEntry(index: index, name: line.name, colour: colour)
        }
        return document(body)
    }

    /// Bars grouped by category, one bar per series in each group; a nil value draws no bar.
    public static func bars(categories: [String], series: [(name: String, values: [Double?])], labels: Labels) -> String {
        let values = series.flatMap { $0.values.compactMap { $0 } }
        let high = paddedRange(values + [0]).high
        let frame = Frame(xRange: 0...Double(max(categories.count, 1)), yRange: 0...high)
        var body = frame.axes(labels: labels, yTicks: ticks(0...high))
        let slot = 0.8 / Double(max(series.count, 1))
        for (group, category) in categories.enumerated() {
            body += frame.xTick(at: Double(group) + 0.5, label: category)
            for (index, bar) in series.enumerated() {
                guard group < bar.values.count, let value = bar.values[group] else { continue }
                let left = frame.x(Double(group) + 0.1 + Double(index) * slot)
                let right = frame.x(Double(group) + 0.1 + Double(index + 1) * slot)
                let top = frame.y(value)
                body += #"<rect x="\#(left)" y="\#(top)" width="\#(right - left - 2)" height="\#(frame.y(0) - top)" fill="\#(colours[index % colours.count])"/>"# + "\n"
                body += text(format(value), x: (left + right) / 2, y: top - 4, anchor: "middle", size: 10)
            }
        }
        for (index, bar) in series.enumerated() {
            body += legendEntry(index: index, name: bar.name, colour: colours[index % colours.count])
        }
        return document(body)
    }

    /// Maps data coordinates into the plot area.
    struct Frame {
        let xRange: ClosedRange<Double>
        let yRange: ClosedRange<Double>

        func x(_ value: Double) -> Double {
            round1(margin.left + (value - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound)
                * (width - margin.left - margin.right))
        }

        func y(_ value: Double) -> Double {
            round1(height - margin.bottom - (value - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound)
                * (height - margin.top - margin.bottom))
        }

        func axes(labels: Labels, yTicks: [Double]) -> String {
            let left = margin.left, right = width - margin.right, bottom = height - margin.bottom
            var body = #"<rect x="\#(left)" y="\#(margin.top)" width="\#(right - left)" height="\#(bottom - margin.top)" fill="none" stroke="rgb(68,68,68)"/>"# + "\n"
            for tick in yTicks {
                body += #"<line x1="\#(left)" y1="\#(y(tick))" x2="\#(right)" y2="\#(y(tick))" stroke="rgb(221,221,221)"/>"# + "\n"
                body += text(format(tick), x: left - 6, y: y(tick) + 4, anchor: "end", size: 11)
            }
            body += text(labels.title, x: (left + right) / 2, y: 24, anchor: "middle", size: 15)
            body += text(labels.x, x: (left + right) / 2, y: height - 12, anchor: "middle", size: 12)
            body += #"<text x="18" y="\#((margin.top + bottom) / 2)" font-size="12" text-anchor="middle" transform="rotate(-90 18 \#((margin.top + bottom) / 2))">\#(escape(labels.y))</text>"# + "\n"
            return body
        }

        func xTick(at value: Double, label: String) -> String {
            let bottom = height - margin.bottom
            return #"<line x1="\#(x(value))" y1="\#(bottom)" x2="\#(x(value))" y2="\#(bottom + 5)" stroke="rgb(68,68,68)"/>"# + "\n"
                + text(label, x: x(value), y: bottom + 18, anchor: "middle", size: 11)
        }
    }

    static func document(_ body: String) -> String {
        #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Int(width))" height="\#(Int(height))" viewBox="0 0 \#(Int(width)) \#(Int(height))" font-family="sans-serif">"#
            + "\n" + #"<rect width="100%" height="100%" fill="white"/>"# + "\n" + body + "</svg>\n"
    }

    static func legendEntry(index: Int, name: String, colour: String) -> String {
        let x = width - margin.right + 12, y = margin.top + 10 + Double(index) * 20
        return #"<rect x="\#(x)" y="\#(y - 9)" width="12" height="12" fill="\#(colour)"/>"# + "\n"
            + text(name, x: x + 18, y: y + 2, anchor: "start", size: 12)
    }

    static func text(_ string: String, x: Double, y: Double, anchor: String, size: Int) -> String {
        #"<text x="\#(round1(x))" y="\#(round1(y))" font-size="\#(size)" text-anchor="\#(anchor)">\#(escape(string))</text>"# + "\n"
    }

    /// Runs of consecutive points with a value: a gap breaks the line instead of bridging it.
    static func contiguousRuns(_ points: [(x: Double, y: Double?)]) -> [[(x: Double, y: Double)]] {
        var runs: [[(x: Double, y: Double)]] = [[]]
        for point in points {
            if let y = point.y { runs[runs.count - 1].append((point.x, y)) } else if !runs[runs.count - 1].isEmpty { runs.append([]) }
        }
        return runs.filter { !$0.isEmpty }
    }

    static func paddedRange(_ values: [Double]) -> (low: Double, high: Double) {
        guard let low = values.min(), let high = values.max() else { return (0, 1) }
        let pad = max((high - low) * 0.08, 0.05 * max(abs(high), 1))
        return (max(0, low - pad), high + pad)
    }

    /// About five round ticks (1, 2 or 5 times a power of ten apart) inside `range`.
    static func ticks(_ range: ClosedRange<Double>) -> [Double] {
        let raw = (range.upperBound - range.lowerBound) / 5
        let power = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? raw
        var tick = ceil(range.lowerBound / step) * step, ticks: [Double] = []
        while tick <= range.upperBound + step * 1e-9 {
            ticks.append(tick)
            tick += step
        }
        return ticks
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e6 ? String(Int(value)) : String(format: "%.2f", value)
    }

    static func round1(_ value: Double) -> Double { (value * 10).rounded() / 10 }

    static func escape(_ string: String) -> String {
        string.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
