import NIOCore
import NIOHTTP1
import Testing
@testable import Coordinator

@Suite struct DashboardRenderingTests {
    @Test func escapingCoversEveryMarkupCharacter() {
        #expect(HTMLText.escaped(#"<a href="x">Tom & 'Jerry'</a>"#)
            == "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;")
    }

    @Test func numbersAreFormattedForPeople() {
        #expect(HTMLText.grouped(1_234_567) == "1\u{2009}234\u{2009}567")
        #expect(HTMLText.grouped(-12) == "-12")
        #expect(HTMLText.decimal(.nan, digits: 2) == "–")
        #expect(HTMLText.duration(seconds: 425) == "7 min 05 s")
        #expect(HTMLText.duration(seconds: 12_000) == "3 h 20 min")
    }

    @Test func axisEndsOnNiceTicksAroundTheValues() {
        let axis = Axis(values: [1.43, 3.12])
        #expect(axis.tickSpacing == 0.5)
        #expect(axis.lower == 1.0 && axis.upper == 3.5)
        #expect(axis.ticks == [1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
        #expect(axis.label(1.5) == "1.5")
        #expect(Axis(values: [1, 3], minimumTickSpacing: 1).tickSpacing == 1)
    }

    @Test func axisOfOneValueStillHasARange() {
        let axis = Axis(values: [7])
        #expect(axis.lower < 7 && axis.upper > 7)
    }

    @Test func plotWithoutFiniteValuesSaysSo() {
        let plot = SVGLinePlot(points: [.init(x: 1, y: .nan)], yName: "loss", color: "#000")
        #expect(plot.svg.contains("No rounds recorded yet"))
    }

    @Test func roundsTableListsTheNewestTwentyNewestFirst() {
        let html = DashboardPage(status: SampleStatuses.realistic()).html
        #expect(html.contains("Recent rounds (newest 20 of 30)"))
        let rows = html.components(separatedBy: "<tr").count - 1
        #expect(rows == 1 + 4 + 1 + 20)
        let newest = html.range(of: "<td>30</td>")
        let oldestShown = html.range(of: "<td>11</td>")
        #expect(newest != nil && oldestShown != nil)
        #expect(html.range(of: "<td>10</td><td>4</td>") == nil)
    }

    @Test func routesDependOnPathThenMethod() {
        #expect(DashboardRoute(method: .GET, uri: "/") == .page)
        #expect(DashboardRoute(method: .GET, uri: "/api/status?pretty=1") == .statusJSON)
        #expect(DashboardRoute(method: .GET, uri: "/metrics") == .metrics)
        #expect(DashboardRoute(method: .POST, uri: "/metrics") == .methodNotAllowed)
        #expect(DashboardRoute(method: .GET, uri: "/metrics/extra") == .notFound)
    }

    @Test func roundsRouteReadsItsQueryOrSaysWhyNot() {
        #expect(DashboardRoute(method: .GET, uri: "/api/rounds") == .rounds(RoundsQuery(since: 0, limit: 1_000)))
        #expect(DashboardRoute(method: .GET, uri: "/api/rounds?since=5&limit=20&") == .rounds(RoundsQuery(since: 5, limit: 20)))
        #expect(DashboardRoute(method: .POST, uri: "/api/rounds?since=x") == .methodNotAllowed)
        let refused = DashboardRoute(method: .GET, uri: "/api/rounds?limit=5000")
        guard case .badRequest = refused else {
            Issue.record("a limit over the bound was routed as \(refused)")
            return
        }
    }

    @Test func plotsOfALongRunDrawAFewHundredPointsPerSeries() {
        var status = SampleStatuses.realistic()
        status.show(RoundHistory(rounds: (0..<20_000).map(RoundHistoryTests.round), windowSize: 100))
        let html = DashboardPage(status: status).html
        let polylines = html.components(separatedBy: "<polyline").dropFirst()
        #expect(polylines.count == 2)
        for polyline in polylines {
            let points = polyline.components(separatedBy: "points=\"")[1].prefix { $0 != "\"" }
            let count = points.split(separator: " ").count
            #expect(count > 100 && count <= DownsampledSeries.defaultMaximumBuckets + 1, "\(count) points")
        }
        #expect(html.contains("Recent rounds (newest 20 of 20\u{2009}000)"))
    }

    @Test func requestReaderRespondsAtTheEndAndRejectsOversizedBodies() {
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
        var reader = HTTPRequestReader(maximumBytes: 100)
        #expect(reader.onPart(.head(head)) == .readMore)
        #expect(reader.onPart(.end(nil)) == .respond(to: head))
        #expect(reader.onPart(.head(head)) == .readMore)
        #expect(reader.onPart(.body(ByteBuffer(repeating: 0, count: 200))) == .rejectTooLarge)
        #expect(reader.onPart(.end(nil)) == .readMore)
    }

    @Test func countersFollowTotalsAndResetWhenTheyShrink() async {
        let metrics = DashboardMetrics()
        var status = SampleStatuses.realistic()
        #expect(PrometheusText.samples(await metrics.exposition(of: status))["cohort_rounds_total"] == 30)
        let restarted = Array(status.rounds.prefix(10))
        status.show(RoundHistory(rounds: restarted))
        let values = PrometheusText.samples(await metrics.exposition(of: status))
        #expect(values["cohort_rounds_total"] == 10)
        #expect(values["cohort_samples_total"] == Double(restarted.map(\.samples).reduce(0, +)))
    }
}
