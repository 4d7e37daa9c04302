import Foundation

/// A line plot drawn as inline SVG with real axes: gridlines and tick labels at "nice" values
/// (1, 2 or 5 times a power of ten), so the page needs no script or plotting library.
///
/// It draws every point it is given: callers pass a downsampled series (`DownsampledSeries`),
/// so the page stays small however long the run.
struct SVGLinePlot {
    /// One plotted value: x is the training step.
    struct Point: Equatable {
        var x: Double
        var y: Double
    }

    var points: [Point]
    /// Names the y axis for screen readers and the tooltip, e.g. "loss".
    var yName: String
    /// Stroke colour of the line.
    var color: String

    private static let width = 560.0, height = 240.0
    private static let left = 56.0, right = 16.0, top = 14.0, bottom = 38.0

    /// The plot as an `<svg>` element; a short note instead when nothing finite is left to plot.
    var svg: String {
        let finite = points.filter { $0.x.isFinite && $0.y.isFinite }
        guard !finite.isEmpty else {
            return "<p class=\"empty\">No rounds recorded yet.</p>"
        }
        let xAxis = Axis(values: finite.map(\.x), minimumTickSpacing: 1)
        let yAxis = Axis(values: finite.map(\.y))
        let plotWidth = Self.width - Self.left - Self.right
        let plotHeight = Self.height - Self.top - Self.bottom
        func px(_ x: Double) -> Double { Self.left + xAxis.fraction(of: x) * plotWidth }
        func py(_ y: Double) -> Double { Self.top + (1 - yAxis.fraction(of: y)) * plotHeight }

        var svg = """
            <svg viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" role="img" \
            aria-label="\(HTMLText.escaped(yName)) over steps" xmlns="http://www.w3.org/2000/svg">
            """
        for tick in yAxis.ticks {
            let y = coordinate(py(tick))
            svg += "<line class=\"grid\" x1=\"\(Int(Self.left))\" x2=\"\(Int(Self.width - Self.right))\" y1=\"\(y)\" y2=\"\(y)\"/>"
            svg += "<text class=\"tick\" x=\"\(Int(Self.left) - 6)\" y=\"\(y)\" text-anchor=\"end\" dy=\"0.32em\">\(yAxis.label(tick))</text>"
        }
        let baseline = coordinate(Self.height - Self.bottom)
        for tick in xAxis.ticks {
            let x = coordinate(px(tick))
            svg += "<line class=\"axis\" x1=\"\(x)\" x2=\"\(x)\" y1=\"\(baseline)\" y2=\"\(coordinate(Self.height - Self.bottom + 4))\"/>"
            svg += "<text class=\"tick\" x=\"\(x)\" y=\"\(coordinate(Self.height - Self.bottom + 16))\" text-anchor=\"middle\">\(xAxis.label(tick))</text>"
        }
        svg += "<line class=\"axis\" x1=\"\(Int(Self.left))\" x2=\"\(Int(Self.width - Self.right))\" y1=\"\(baseline)\" y2=\"\(baseline)\"/>"
        svg += "<line class=\"axis\" x1=\"\(Int(Self.left))\" x2=\"\(Int(Self.left))\" y1=\"\(Int(Self.top))\" y2=\"\(baseline)\"/>"
        svg += "<text class=\"axis-title\" x=\"\(coordinate(Self.left + plotWidth / 2))\" y=\"\(Int(Self.height) - 4)\" text-anchor=\"middle\">step</text>"

        let path = finite.map { "\(coordinate(px($0.x))),\(coordinate(py($0.y)))" }.joined(separator: " ")
        svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"\(path)\"/>"
        if finite.count <= 60 {
            for point in finite {
                svg += "<circle cx=\"\(coordinate(px(point.x)))\" cy=\"\(coordinate(py(point.y)))\" r=\"2.5\" fill=\"\(color)\">"
                svg += "<title>step \(Int(point.x)): \(HTMLText.escaped(yName)) \(yAxis.label(point.y, extraDigits: 2))</title></circle>"
            }
        }
        return svg + "</svg>"
    }

    private func coordinate(_ value: Double) -> String {
        String(format: "%.1f", value)
    }
}

/// One axis of a plot: a domain that starts and ends on ticks spaced 1, 2 or 5 × 10ⁿ apart.
struct Axis: Equatable {
    let lower: Double
    let upper: Double
    let tickSpacing: Double

    /// An axis covering `values` (which must be finite and non-empty) with about `tickCount`
    /// ticks, spaced at least `minimumTickSpacing` apart (1 for steps, which are whole numbers).
    init(values: [Double], tickCount: Int = 5, minimumTickSpacing: Double = 0) {
        guard var low = values.min(), var high = values.max() else {
            preconditionFailure("an axis needs at least one value")
        }
        if low == high {
            let pad = max(abs(low) * 0.1, 1)
            low -= pad
            high += pad
        }
        let spacing = max(Self.niceSpacing(for: (high - low) / Double(tickCount)), minimumTickSpacing)
        tickSpacing = spacing
        lower = (low / spacing).rounded(.down) * spacing
        upper = (high / spacing).rounded(.up) * spacing
    }

    /// Tick positions from `lower` to `upper` inclusive.
    var ticks: [Double] {
        let count = Int(((upper - lower) / tickSpacing).rounded())
        return (0...count).map { lower + Double($0) * tickSpacing }
    }

    /// Where `value` falls between `lower` (0) and `upper` (1).
    func fraction(of value: Double) -> Double {
        (value - lower) / (upper - lower)
    }

    /// `value` with as many decimals as the tick spacing needs, plus `extraDigits`.
    func label(_ value: Double, extraDigits: Int = 0) -> String {
        let digits = max(0, -Int(log10(tickSpacing).rounded(.down))) + extraDigits
        let rounded = abs(value) < tickSpacing * 1e-9 ? 0 : value
        return String(format: "%.\(digits)f", rounded)
    }

    /// The smallest of 1, 2, 5 or 10 × 10ⁿ that is at least `rough`.
    static func niceSpacing(for rough: Double) -> Double {
        let magnitude = pow(10, log10(rough).rounded(.down))
        let normalized = rough / magnitude
        let factor: Double = normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10
        return factor * magnitude
    }
}
