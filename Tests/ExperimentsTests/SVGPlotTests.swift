import Testing
@testable import Experiments

@Suite struct SVGPlotTests {
    @Test func aMissingPointBreaksTheLine() {
        let runs = SVGPlot.contiguousRuns([(1, 2), (2, nil), (3, 4), (4, 5)])
        #expect(runs.map { $0.map(\.x) } == [[1], [3, 4]])
        let svg = SVGPlot.lines([SVGPlot.Series(name: "a", points: [(1, 2), (2, nil), (4, 4)])],
                                labels: SVGPlot.Labels(title: "t", x: "x", y: "y"), xTicks: [1, 2, 4])
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 2)
        #expect(svg.components(separatedBy: "<circle").count - 1 == 2)
    }

    @Test func ticksAreRoundAndInsideTheRange() {
        #expect(SVGPlot.ticks(0...10) == [0, 2, 4, 6, 8, 10])
        #expect(SVGPlot.ticks(4.3...19.1) == [5, 10, 15])
    }

    @Test func barsSkipMissingValuesAndTextIsEscaped() {
        let svg = SVGPlot.bars(categories: ["a<b"], series: [(name: "x", values: [3]), (name: "y", values: [nil])],
                               labels: SVGPlot.Labels(title: "t & u", x: "x", y: "y"))
        #expect(svg.contains("a&lt;b") && svg.contains("t &amp; u"))
        #expect(svg.components(separatedBy: #"<rect x="#).count - 1 == 1 + 1 + 2)  // frame, one bar, two legend keys
    }
}

@Suite struct SVGPlotBandTests {
    @Test func aBandIsShadedOnlyWhereItHasAMiddleAndAWidth() {
        let band = SVGPlot.Band(name: "seeds", points: [(0, 1, 1.5, 2), (1, 1, 1.4, 1.8), (2, 0, nil, 0), (3, 1, 1.2, 1.3), (4, 1, 1.1, 1.2)])
        let flat = SVGPlot.Band(name: "one seed", points: [(0, 2, 2, 2), (4, 1, 1, 1)])
        let svg = SVGPlot.bands([band, flat], labels: SVGPlot.Labels(title: "t", x: "samples", y: "loss"))
        #expect(svg.components(separatedBy: "<polygon").count - 1 == 2)
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 3)
        #expect(SVGPlot.bandRuns(band.points).map { $0.map(\.x) } == [[0, 1], [3, 4]])
    }
}
