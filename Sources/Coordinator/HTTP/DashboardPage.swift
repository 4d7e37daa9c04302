/// The dashboard: one self-contained HTML document rendered on the server from a status.
///
/// No scripts, fonts or stylesheets are fetched (a coordinator may run where the browser has no
/// internet access); plots are inline SVG and the page reloads itself every
/// `refreshSeconds`. Every string taken from the status is escaped with `HTMLText.escaped`.
struct DashboardPage {
    let status: CoordinatorStatus
    /// How many of the newest rounds the rounds table lists.
    var recentRoundCount = 20
    var refreshSeconds = 5

    var html: String {
        let runName = HTMLText.escaped(status.runName)
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="refresh" content="\(refreshSeconds)">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(runName) · Cohort</title>
            <style>\(Self.styleSheet)</style>
            </head>
            <body>
            <header>
            <h1><span class="brand">Cohort</span> \(runName)</h1>
            <p class="join">Join with <code>cohort peer --join \(HTMLText.escaped(status.joinAddress))</code></p>
            <p class="checkpoint">\(checkpointLine)</p>
            </header>
            <main>
            \(summaryCards)
            \(targetBatchBar)
            <section class="plots">
            <figure><figcaption>Loss</figcaption>\(lossPlot.svg)</figure>
            <figure><figcaption>Throughput (samples/s)</figcaption>\(throughputPlot.svg)</figure>
            </section>
            \(peersTable)
            \(roundsTable)
            </main>
            <footer>Refreshes every \(refreshSeconds) s · <a href="/api/status">/api/status</a> · \
            <a href="/metrics">/metrics</a></footer>
            </body>
            </html>

            """
    }

    private var summaryCards: String {
        let lastLoss = status.latestRound.map { HTMLText.decimal($0.loss, digits: 3) } ?? "–"
        let cards = [
            ("Step", HTMLText.grouped(status.step)),
            ("Peers", String(status.peers.count)),
            ("Rounds", HTMLText.grouped(status.roundsTotal)),
            ("Samples", HTMLText.grouped(status.samplesTotal)),
            ("Last loss", lastLoss),
            ("Hash mismatches", String(status.hashMismatches)),
            ("Compute busy", status.utilisation.map { "\(HTMLText.decimal($0 * 100, digits: 0)) %" } ?? "–"),
            ("Uptime", HTMLText.duration(seconds: status.uptimeSeconds)),
        ]
        let items = cards.map { "<div class=\"card\"><div class=\"label\">\($0)</div><div class=\"value\">\($1)</div></div>" }
        return "<section class=\"cards\">\(items.joined())</section>"
    }

    private var targetBatchBar: String {
        let percent = status.targetBatchProgress * 100
        return """
            <section class="progress">
            <div class="progress-label"><span>Target batch</span>\
            <span>\(HTMLText.grouped(status.samplesAccumulated)) / \(HTMLText.grouped(status.targetBatchSize)) samples \
            (\(HTMLText.decimal(percent, digits: 0)) %)</span></div>
            <div class="bar"><div class="fill" style="width: \(HTMLText.decimal(percent, digits: 1))%"></div></div>
            </section>
            """
    }

    private var lossPlot: SVGLinePlot {
        SVGLinePlot(points: status.lossPlot.map { .init(x: $0.step, y: $0.value) }, yName: "loss", color: "#d9480f")
    }

    private var throughputPlot: SVGLinePlot {
        SVGLinePlot(points: status.throughputPlot.map { .init(x: $0.step, y: $0.value) }, yName: "samples/s", color: "#1c7ed6")
    }

    private var checkpointLine: String {
        guard let step = status.lastCheckpointStep else {
            return "No checkpoint written yet."
        }
        let path = status.lastCheckpointPath.map { " → <code>\(HTMLText.escaped($0))</code>" } ?? ""
        return "Last checkpoint at step \(HTMLText.grouped(step))\(path)"
    }
}
