import Foundation
import Testing
@testable import Coordinator

@Suite struct RoundJournalTests {
    static func round(_ step: Int, loss: Double = 2.5) -> CoordinatorStatus.Round {
        .init(step: step, members: 3, samples: 24, durationSeconds: 0.5, loss: loss, samplesPerSecond: 30,
              bytesSent: 10, bytesReceived: 10, failedParts: 0, note: "", recordedAtMilliseconds: 1)
    }

    @Test func roundsSurviveAReopenIncludingOnesWithoutALoss() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let journal = try RoundJournal(url: url)
            try journal.append(Self.round(0))
            try journal.append(Self.round(1, loss: .nan))
        }
        let reopened = try RoundJournal(url: url)
        #expect(reopened.rounds.map(\.step) == [0, 1])
        #expect(reopened.rounds[1].loss.isNaN)
        #expect(reopened.skipped == 0)
    }

    @Test func aTornLastLineIsSkippedAndCutSoAppendsStayReadable() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let journal = try RoundJournal(url: url)
            try journal.append(Self.round(0))
        }
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"step": 1, "memb"#.utf8))
        try handle.close()
        do {
            let journal = try RoundJournal(url: url)
            #expect(journal.rounds.map(\.step) == [0])
            #expect(journal.skipped == 1)
            try journal.append(Self.round(1))
        }
        #expect(try RoundJournal(url: url).rounds.map(\.step) == [0, 1])
    }
}
