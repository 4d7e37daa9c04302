import Foundation
import Testing
@testable import Coordinator

/// `/api/status` with a bounded round window and `/api/rounds` paging the journal, over
/// real loopback HTTP.
@Suite(.timeLimit(.minutes(1)))
struct RoundsAPITests {
    /// A journal of `count` rounds in a temporary file, with the history a coordinator would
    /// replay from it; removed after `body`.
    static func withJournal(count: Int, windowSize: Int,
                            _ body: (RoundJournal, RoundHistory) async throws -> Void) async throws {
        let url = RoundJournalTests.temporaryURL()
        defer { try? FileManager.default.removeItem(at: url) }
        let journal = try RoundJournal(url: url, indexStride: 16)
        var history = RoundHistory(windowSize: windowSize)
        for step in 0..<count {
            let round = RoundHistoryTests.round(step)
            try journal.append(round)
            history.record(round)
        }
        try await body(journal, history)
    }

    static func serving(_ journal: RoundJournal) -> @Sendable (RoundsQuery) async throws -> RoundPage {
        { try journal.page(since: $0.since, limit: $0.limit) }
    }

    static func decode<Value: Decodable>(_ type: Value.Type, _ reply: LoopbackHTTPClient.Reply) throws -> Value {
        try CoordinatorStatus.statusJSONDecoder().decode(type, from: Data(reply.body.utf8))
    }

    @Test func statusServesOnlyTheWindowWithTotalsOverTheWholeRun() async throws {
        try await Self.withJournal(count: 2_500, windowSize: 100) { journal, history in
            var status = SampleStatuses.realistic()
            status.show(history)
            try await withDashboard(rounds: Self.serving(journal), serving: { [status] in status }) { server in
                let reply = try await LoopbackHTTPClient.request("/api/status", port: server.port)
                #expect(reply.statusCode == 200)
                let json = try #require(try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any])
                #expect((json["rounds"] as? [Any])?.count == 100)
                #expect(json["rounds_total"] as? Int == 2_500)
                #expect(json["first_step"] as? Int == 0)
                #expect(json["last_step"] as? Int == 2_499)
                #expect(json["samples_total"] as? Int == (0..<2_500).map { RoundHistoryTests.round($0).samples }.reduce(0, +))
                #expect(((json["loss_plot"] as? [Any])?.count ?? .max) <= DownsampledSeries.defaultMaximumBuckets + 1)
                let decoded = try Self.decode(CoordinatorStatus.self, reply)
                #expect(decoded.rounds.map(\.step) == Array(2_400..<2_500))
                #expect(decoded.lossPlot == status.lossPlot)
            }
        }
    }

    @Test func roundsPageFromAnyStepAndSayWhereTheNextPageStarts() async throws {
        try await Self.withJournal(count: 2_500, windowSize: 100) { journal, _ in
            try await withDashboard(rounds: Self.serving(journal), serving: { SampleStatuses.hostile }) { server in
                let first = try await LoopbackHTTPClient.request("/api/rounds", port: server.port)
                #expect(first.statusCode == 200)
                #expect(first.headers["content-type"] == "application/json")
                let firstPage = try Self.decode(RoundPage.self, first)
                #expect(firstPage.rounds.map(\.step) == Array(0..<RoundsQuery.maximumLimit))
                #expect(firstPage.nextSince == RoundsQuery.maximumLimit)

                let middle = try Self.decode(RoundPage.self, try await LoopbackHTTPClient.request(
                    "/api/rounds?since=1234&limit=3", port: server.port))
                #expect(middle == RoundPage(rounds: (1_234..<1_237).map(RoundHistoryTests.round), nextSince: 1_237))

                let last = try await LoopbackHTTPClient.request("/api/rounds?limit=10&since=2495", port: server.port)
                #expect(last.body.contains("\"next_since\":null"))
                #expect(try Self.decode(RoundPage.self, last).rounds.map(\.step) == Array(2_495..<2_500))
            }
        }
    }

    @Test func pagingFromTheFirstStepReturnsEveryJournaledRoundOnce() async throws {
        try await Self.withJournal(count: 2_345, windowSize: 100) { journal, _ in
            try await withDashboard(rounds: Self.serving(journal), serving: { SampleStatuses.hostile }) { server in
                var steps: [Int] = []
                var since: Int? = 0
                while let next = since {
                    let reply = try await LoopbackHTTPClient.request("/api/rounds?since=\(next)", port: server.port)
                    let page = try Self.decode(RoundPage.self, reply)
                    steps += page.rounds.map(\.step)
                    since = page.nextSince
                }
                #expect(steps == Array(0..<2_345))
            }
        }
    }

    @Test(arguments: ["since=-1", "since=abc", "since=", "since", "limit=0", "limit=1001", "limit=+5", "limit=1e3",
                      "step=3", "since=1&since=2", "since=99999999999999999999999"])
    func anInvalidQueryIsABadRequestWithAOneLineReason(query: String) async throws {
        try await withDashboard(serving: { SampleStatuses.hostile }) { server in
            let reply = try await LoopbackHTTPClient.request("/api/rounds?\(query)", port: server.port)
            #expect(reply.statusCode == 400)
            #expect(reply.headers["content-type"] == "text/plain; charset=utf-8")
            #expect(reply.body.hasSuffix("\n") && reply.body.filter { $0 == "\n" }.count == 1, "\(reply.body)")
        }
    }

    @Test func aJournalThatCannotBeReadIsServiceUnavailable() async throws {
        let failing: @Sendable (RoundsQuery) async throws -> RoundPage = { _ in
            throw RoundJournal.Error(description: "the round journal is not open yet")
        }
        try await withDashboard(rounds: failing, serving: { SampleStatuses.hostile }) { server in
            let reply = try await LoopbackHTTPClient.request("/api/rounds?since=0", port: server.port)
            #expect(reply.statusCode == 503)
        }
    }
}
