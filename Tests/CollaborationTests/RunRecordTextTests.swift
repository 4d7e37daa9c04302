import Collaboration
import Testing
import Wire

/// Texts in run records reach the coordinator's journal, its `peers.txt` and every peer's log.
@Suite struct RunRecordTextTests {
    static let report = RoundReport(step: 12, members: 3, samples: 96, durationSeconds: 0.25, loss: 2.5,
                                    bytesSent: 10, bytesReceived: 20, failedParts: 1, note: "")

    @Test func roundNoteIsSentEscaped() throws {
        var report = Self.report
        report.note = "part 2 not averaged\n[fake log line] \u{1B}[31mbanned\u{202E}"
        let decoded = try RoundReport(decoding: report.encoded)
        #expect(decoded.note == "part 2 not averaged\\u{A}[fake log line] \\u{1B}[31mbanned\\u{202E}")
    }

    @Test(arguments: ["a\nb", "a\u{1B}b", "a\u{202E}b"])
    func roundReportWithAnUnsafeNoteIsRefused(note: String) throws {
        var report = Self.report
        report.note = String(repeating: "?", count: note.utf8.count)
        var bytes = report.encoded
        bytes.replaceSubrange((bytes.count - note.utf8.count)..., with: note.utf8)
        #expect(throws: WireError.invalidValue) { try RoundReport(decoding: bytes) }
    }

    @Test func longRoundNoteIsCutToTheBoundAndStillDecodes() throws {
        var report = Self.report
        report.note = String(repeating: "é", count: RoundReport.maxNoteBytes)
        let decoded = try RoundReport(decoding: report.encoded)
        #expect(decoded.note.utf8.count <= RoundReport.maxNoteBytes)
        #expect(decoded.note.hasSuffix("…"))
    }

    @Test(arguments: ["10.0.0.1\n203.0.113.66", "host\u{1B}[2J", "a b", "x\u{202E}y"])
    func stateAnnouncementWithAnUnprintableHostIsRefused(host: String) {
        let announcement = StateAnnouncement(step: 3, stateHash: [UInt8](repeating: 1, count: 32), stateBytes: 64,
                                             host: host, port: 7001, timestampMilliseconds: 5)
        #expect(throws: WireError.invalidValue) { try StateAnnouncement(decoding: announcement.encoded) }
    }
}
