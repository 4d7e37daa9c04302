import Foundation
import Testing
@testable import Coordinator

@Suite struct RoundJournalTests {
    static func round(_ step: Int, loss: Double = 2.5) -> CoordinatorStatus.Round {
        .init(step: step, members: 3, samples: 24, durationSeconds: 0.5, loss: loss, samplesPerSecond: 30,
              bytesSent: 10, bytesReceived: 10, failedParts: 0, note: "", recordedAtMilliseconds: 1)
    }

    static func temporaryURL() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString).jsonl")
    }

    /// Every round `journal` pages out, following `next_since` from step 0.
    static func allPages(of journal: RoundJournal, limit: Int) throws -> [Int] {
        var steps: [Int] = []
        var since: Int? = 0
        while let next = since {
            let page = try journal.page(since: next, limit: limit)
            steps += page.rounds.map(\.step)
            since = page.nextSince
        }
        return steps
    }

    static func appendRaw(_ text: String, to url: URL) throws {
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    @Test func roundsSurviveAReopenIncludingOnesWithoutALoss() throws {
        let url = Self.temporaryURL()
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let journal = try RoundJournal(url: url)
            try journal.append(Self.round(0))
            try journal.append(Self.round(1, loss: .nan))
        }
        var replayed: [CoordinatorStatus.Round] = []
        let reopened = try RoundJournal(url: url) { replayed.append($0) }
        #expect(replayed.map(\.step) == [0, 1])
        #expect(replayed[1].loss.isNaN)
        #expect(reopened.skipped == 0)
        #expect(reopened.lastStep == 1)
        #expect(try reopened.page(since: 0, limit: 10).rounds.map(\.step) == [0, 1])
    }

    @Test func aTornLastLineIsSkippedAndCutSoAppendsStayReadable() throws {
        let url = Self.temporaryURL()
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let journal = try RoundJournal(url: url)
            try journal.append(Self.round(0))
        }
        try Self.appendRaw(#"{"step": 1, "memb"#, to: url)
        do {
            var replayed: [Int] = []
            let journal = try RoundJournal(url: url) { replayed.append($0.step) }
            #expect(replayed == [0])
            #expect(journal.skipped == 1)
            try journal.append(Self.round(1))
        }
        var replayed: [Int] = []
        _ = try RoundJournal(url: url) { replayed.append($0.step) }
        #expect(replayed == [0, 1])
    }

    @Test func linesThatAreNotRoundsOrRepeatAStepAreLeftOutOfReplayAndPages() throws {
        let url = Self.temporaryURL()
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let journal = try RoundJournal(url: url)
            try journal.append(Self.round(0))
            try journal.append(Self.round(1))
        }
        try Self.appendRaw("not a round\n", to: url)
        let repeated = try #require(String(data: try Data(contentsOf: url), encoding: .utf8)?.split(separator: "\n").first)
        try Self.appendRaw(repeated + "\n", to: url)
        var replayed: [Int] = []
        let journal = try RoundJournal(url: url, indexStride: 1) { replayed.append($0.step) }
        try journal.append(Self.round(2))
        #expect(replayed == [0, 1])
        #expect(journal.skipped == 2)
        #expect(try Self.allPages(of: journal, limit: 1) == [0, 1, 2])
        #expect(try journal.page(since: 1, limit: 5).rounds.map(\.step) == [1, 2])
    }

    @Test(arguments: [1, 7, 256])
    func pagesFollowNextSinceThroughRoundsReadBackAndAppended(indexStride: Int) throws {
        let url = Self.temporaryURL()
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let journal = try RoundJournal(url: url, indexStride: indexStride)
            for step in 0..<300 { try journal.append(Self.round(step)) }
        }
        let journal = try RoundJournal(url: url, indexStride: indexStride)
        for step in 300..<500 { try journal.append(Self.round(step)) }
        #expect(try Self.allPages(of: journal, limit: 64) == Array(0..<500))

        let middle = try journal.page(since: 123, limit: 10)
        #expect(middle.rounds.map(\.step) == Array(123..<133))
        #expect(middle.nextSince == 133)
        let last = try journal.page(since: 495, limit: 10)
        #expect(last.rounds.map(\.step) == Array(495..<500))
        #expect(last.nextSince == nil)
        #expect(try journal.page(since: 500, limit: 10) == RoundPage(rounds: [], nextSince: nil))
    }

    @Test func pagesStartAtTheFirstJournaledStepWhenAskedForAnEarlierOne() throws {
        let url = Self.temporaryURL()
        defer { try? FileManager.default.removeItem(at: url) }
        let journal = try RoundJournal(url: url, indexStride: 4)
        for step in 40..<60 { try journal.append(Self.round(step)) }
        let page = try journal.page(since: 0, limit: 5)
        #expect(page.rounds.map(\.step) == [40, 41, 42, 43, 44])
        #expect(page.nextSince == 45)
    }

    @Test func anEmptyJournalHasAnEmptyLastPage() throws {
        let url = Self.temporaryURL()
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try RoundJournal(url: url).page(since: 0, limit: 5) == RoundPage(rounds: [], nextSince: nil))
    }
}
