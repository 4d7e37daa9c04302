/// The page's two tables: the live peers and the newest rounds.
extension DashboardPage {
    var peersTable: String {
        guard !status.peers.isEmpty else {
            return section("Peers", body: "<p class=\"empty\">No peer has published progress recently.</p>")
        }
        let rows = status.peers.map { peer in
            row([
                "<code>\(HTMLText.escaped(peer.id))</code>",
                HTMLText.grouped(peer.step),
                HTMLText.grouped(peer.samplesAccumulated),
                HTMLText.decimal(peer.samplesPerSecond, digits: 1),
                HTMLText.decimal(peer.loss, digits: 3),
                peer.clientMode ? "<span class=\"tag\">client</span>" : "full",
                peer.utilisation.map { "\(HTMLText.decimal($0 * 100, digits: 0)) %" } ?? "–",
                peer.bytesPerToken.map { HTMLText.decimal($0, digits: 0) } ?? "–",
                peer.stepsInLastRound.map(String.init) ?? "–",
                "\(HTMLText.decimal(peer.secondsSinceUpdate, digits: 1)) s ago",
            ])
        }
        let head = header(["Peer", "Step", "Samples", "Samples/s", "Loss", "Mode", "Busy", "Bytes/token", "Steps/round", "Last seen"])
        return section("Peers (\(status.peers.count))", body: table(head: head, rows: rows))
    }

    var roundsTable: String {
        guard !status.rounds.isEmpty else {
            return section("Recent rounds", body: "<p class=\"empty\">No rounds recorded yet.</p>")
        }
        let rows = status.recentRounds(recentRoundCount).map { round in
            let degraded = round.failedParts > 0 || !round.note.isEmpty
            return row([
                HTMLText.grouped(round.step),
                String(round.members),
                HTMLText.grouped(round.samples),
                "\(HTMLText.decimal(round.durationSeconds, digits: 2)) s",
                HTMLText.decimal(round.loss, digits: 3),
                String(round.failedParts),
                HTMLText.escaped(round.note),
            ], rowClass: degraded ? "degraded" : nil)
        }
        let head = header(["Step", "Members", "Samples", "Duration", "Loss", "Failed parts", "Note"])
        let title = "Recent rounds (newest \(min(recentRoundCount, status.rounds.count)) of \(HTMLText.grouped(status.roundsTotal)))"
        return section(title, body: table(head: head, rows: rows))
    }

    private func section(_ title: String, body: String) -> String {
        "<section><h2>\(title)</h2>\(body)</section>"
    }

    private func table(head: String, rows: [String]) -> String {
        "<table><thead>\(head)</thead><tbody>\(rows.joined())</tbody></table>"
    }

    private func header(_ titles: [String]) -> String {
        "<tr>" + titles.map { "<th>\($0)</th>" }.joined() + "</tr>"
    }

    /// A table row of cells that are already HTML (escaped where they came from the status).
    private func row(_ cells: [String], rowClass: String? = nil) -> String {
        let open = rowClass.map { "<tr class=\"\($0)\">" } ?? "<tr>"
        return open + cells.map { "<td>\($0)</td>" }.joined() + "</tr>"
    }
}

extension DashboardPage {
    /// The page's whole style sheet, inline so the page needs nothing else.
    static let styleSheet = """
        :root { color-scheme: light; --ink: #1f2933; --muted: #66788a; --line: #e3e8ee; --panel: #ffffff; }
        * { box-sizing: border-box; }
        body { margin: 0; background: #f4f6f8; color: var(--ink);
          font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
        header { background: #102a43; color: #f0f4f8; padding: 18px 32px; }
        h1 { margin: 0; font-size: 22px; font-weight: 600; }
        .brand { color: #9fb3c8; font-weight: 400; margin-right: 6px; }
        .join { margin: 4px 0 0; color: #bcccdc; }
        .join code { color: #f0f4f8; background: #243b53; padding: 1px 6px; border-radius: 4px; }
        main { max-width: 1200px; margin: 0 auto; padding: 20px 32px; }
        h2 { font-size: 15px; margin: 0 0 10px; }
        section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
          padding: 14px 18px; margin-bottom: 16px; }
        .cards { display: grid; grid-template-columns: repeat(8, 1fr); gap: 12px; padding: 12px; }
        .card { padding: 4px 8px; border-right: 1px solid var(--line); }
        .card:last-child { border-right: none; }
        .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
        .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
        .progress-label { display: flex; justify-content: space-between; margin-bottom: 6px; font-weight: 600; }
        .progress-label span + span { font-weight: 400; color: var(--muted); }
        .bar { height: 12px; background: #e6ebf0; border-radius: 6px; overflow: hidden; }
        .fill { height: 100%; background: linear-gradient(90deg, #2f9e44, #51cf66); }
        .plots { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
        figure { margin: 0; }
        figcaption { font-weight: 600; margin-bottom: 4px; }
        svg { width: 100%; height: auto; display: block; }
        svg .grid { stroke: #edf0f3; }
        svg .axis { stroke: #9aa5b1; }
        svg .tick, svg .axis-title { fill: var(--muted); font-size: 11px; }
        table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
        th { text-align: left; color: var(--muted); font-weight: 600; font-size: 12px;
          border-bottom: 1px solid var(--line); padding: 6px 8px; }
        td { border-bottom: 1px solid #f0f2f4; padding: 5px 8px; }
        tr.degraded td { background: #fff4e6; }
        .tag { background: #e7f5ff; color: #1864ab; padding: 1px 6px; border-radius: 4px; font-size: 12px; }
        .empty { color: var(--muted); margin: 0; }
        .checkpoint { margin: 2px 0 0; color: #9fb3c8; font-size: 13px; }
        .checkpoint code { color: #d9e2ec; }
        code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
        footer { text-align: center; color: var(--muted); padding: 0 0 24px; }
        a { color: #1c7ed6; }
        """
}
