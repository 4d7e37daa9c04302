import CohortBase
import Averaging
import Collaboration
import DHT
import Testing
import Wire
@testable import Coordinator

/// The coordinator's poll as a pure state machine: scripted records and outcomes, a virtual clock.
@Suite struct CoordinatorSessionTests {
    typealias Session = CoordinatorSession
    static let stateBytes = 4_000
    static let startWall = WallClockInstant(millisecondsSinceEpoch: 1_800_000_000_000)
    static let peers: [PeerID] = {
        var generator = SplitMix64(seed: 11)
        return (0..<5).map { _ in PeerID(words: (generator.next(), generator.next(), generator.next(), generator.next())) }
    }()

    /// A session on a virtual clock, with the run's records as the tests script them.
    struct Harness {
        var session: Session
        let clock = ManualClock(wall: startWall)
        var progress: [OwnedRecord<PeerProgress>] = []
        var state: [OwnedRecord<StateAnnouncement>] = []
        var reports: [Int: [OwnedRecord<RoundReport>]] = [:]
        var journal: [CoordinatorStatus.Round] = []
        var shown: Session.ProgressView?

        init(checkpointEvery: Int = 50, contextLength: Int = 1,
             start: Session.Start = .init(nextStep: 0, lastCheckpointStep: nil, servedCheckpoint: nil)) {
            var settings = Session.Settings(targetBatchSize: 32, stateBytes: stateBytes, checkpointEvery: checkpointEvery)
            settings.contextLength = contextLength
            session = Session(settings: settings)
            let first = session.start(start, at: now)
            #expect(first.last == .readRun)
        }

        var now: Session.Now { clock.now() }
        var monotonic: MonotonicInstant { clock.now().monotonic }

        mutating func peer(_ index: Int, step: Int, samples: Int = 8, hash: UInt8 = 1) {
            progress.removeAll { $0.writer == peers[index] }
            progress.append(OwnedRecord(writer: peers[index], value: PeerProgress(
                step: step, samplesAccumulated: samples, samplesPerSecond: 10, loss: 2, timestampMilliseconds: now.wall.millisecondsSinceEpoch)))
            state.removeAll { $0.writer == peers[index] }
            state.append(OwnedRecord(writer: peers[index], value: StateAnnouncement(
                step: step, stateHash: [UInt8](repeating: hash, count: 32), stateBytes: stateBytes, host: "127.0.0.1",
                port: UInt16(7000 + index), timestampMilliseconds: now.wall.millisecondsSinceEpoch)))
        }

        mutating func report(step: Int, by index: Int, members: Int = 3, samples: Int = 40, loss: Double = 2) {
            let report = RoundReport(step: step, members: members, samples: samples, durationSeconds: 1, loss: loss, bytesSent: 10,
                                     bytesReceived: 10, failedParts: 0, note: "")
            reports[step, default: []].append(OwnedRecord(writer: peers[index], value: report))
        }

        /// Answers every directive from the scripted records until the session sleeps; the
        /// directives handed out on the way, the sleep included.
        mutating func poll(journalFails: Bool = false, backup: (Session.CheckpointSource) -> Session.Event = { _ in
            .checkpointFailed(reason: "no donor answered") }) -> [Session.Directive] {
            var all: [Session.Directive] = []
            var batch = session.handle(.runRead(progress: progress, state: state, banned: []), at: now)
            while true {
                all += batch
                #expect(batch.dropLast().allSatisfy { !$0.awaitsEvent }, "only the last directive may await an event: \(batch)")
                for directive in batch { if case .showProgress(let view) = directive { shown = view } }
                switch batch.last {
                case .readRoundReports(let step):
                    batch = session.handle(.roundReportsRead(step: step, reports: reports[step] ?? []), at: now)
                case .journal(let round):
                    if journalFails {
                        batch = session.handle(.journalFailed(reason: "disk full"), at: now)
                    } else {
                        journal.append(round)
                        batch = session.handle(.journaled, at: now)
                    }
                case .backUp(let source):
                    batch = session.handle(backup(source), at: now)
                case .announceCheckpoint:
                    batch = session.handle(.checkpointAnnounced, at: now)
                case .sleep(let until):
                    #expect(until == monotonic + session.settings.pollInterval)
                    return all
                default:
                    Issue.record("unexpected \(batch)")
                    return all
                }
            }
        }

        /// The next poll, `seconds` later: what it asks before it reads the run.
        mutating func wake(after seconds: Int64) -> [Session.Directive] {
            clock.advance(by: .seconds(seconds))
            return session.handle(.woke, at: now)
        }
    }

    @Test func aPollShowsTheRunAndJournalsEveryFinishedRoundFromItsMembersReports() {
        var harness = Harness()
        for index in 0..<3 { harness.peer(index, step: 2, samples: 8 * (index + 1)) }
        harness.report(step: 0, by: 0, members: 3, samples: 40, loss: 2)
        harness.report(step: 0, by: 1, members: 2, samples: 36, loss: 3)
        harness.report(step: 1, by: 2, members: 3, samples: 44)
        _ = harness.poll()
        #expect(harness.journal.map(\.step) == [0, 1])
        let first = harness.journal[0]
        #expect(first.members == 3 && first.samples == 40 && first.loss == 2.5 && first.bytesSent == 20)
        #expect(harness.session.nextStep == 2)
        #expect(harness.shown?.step == 2 && harness.shown?.samplesAccumulated == 48 && harness.shown?.peers.count == 3)
        // The next poll reads the run again and journals nothing twice.
        #expect(harness.wake(after: 1) == [.publishRevocations, .readRun])
        _ = harness.poll()
        #expect(harness.journal.count == 2)
    }

    @Test func thePeersActivityShowsPerPeerWhereTheyReportedOne() {
        var harness = Harness(contextLength: 100)
        harness.peer(0, step: 2)
        harness.peer(1, step: 2)
        var activity = PeerActivity()
        (activity.trainingSeconds, activity.wallSeconds, activity.samplesTrained) = (45, 60, 800)
        (activity.bytesSent, activity.bytesReceived, activity.stepsInLastRound) = (40_000, 40_000, 4)
        harness.progress[1].value.activity = activity
        _ = harness.poll()
        let shown = harness.shown?.peers.first { $0.id == Self.peers[1].shortDescription }
        #expect(shown?.utilisation == 0.75 && shown?.bytesPerToken == 1 && shown?.stepsInLastRound == 4)
        let silent = harness.shown?.peers.first { $0.id == Self.peers[0].shortDescription }
        #expect(silent != nil && silent?.utilisation == nil && silent?.bytesPerToken == nil)
    }

    @Test func oneRecordClaimingAFarStepDoesNotMakeTheJournalWaitForRoundsNobodyReports() {
        var harness = Harness()
        harness.peer(0, step: 1)
        harness.peer(1, step: 1)
        harness.peer(2, step: 1_000_000)
        harness.report(step: 0, by: 0)
        let directives = harness.poll()
        #expect(harness.shown?.step == 1 && harness.journal.map(\.step) == [0])
        #expect(!directives.contains(.readRoundReports(step: 1)))
    }

    @Test func aRoundNobodyReportedIsWaitedForThenJournaledAsAGap() {
        var harness = Harness()
        harness.peer(0, step: 2)
        harness.peer(1, step: 2)
        harness.report(step: 1, by: 0)
        _ = harness.poll()
        #expect(harness.journal.isEmpty, "step 0's reports may still come")
        for second in 1...10 {
            _ = harness.wake(after: 1)
            harness.peer(0, step: 2)
            harness.peer(1, step: 2)
            _ = harness.poll()
            #expect(harness.journal.isEmpty, "still within the grace at \(second) s")
        }
        _ = harness.wake(after: 1)
        harness.peer(0, step: 2)
        harness.peer(1, step: 2)
        _ = harness.poll()
        #expect(harness.journal.map(\.step) == [0, 1])
        #expect(harness.journal[0].members == 0 && harness.journal[0].note == "no member's report was found")
        #expect(harness.journal[1].members == 3)
    }

    @Test func aFailedJournalWriteLeavesTheStepForTheNextPoll() {
        var harness = Harness()
        harness.peer(0, step: 1)
        harness.report(step: 0, by: 0)
        let failed = harness.poll(journalFails: true)
        #expect(failed.contains(.note(.journalFailed(reason: "disk full"))))
        #expect(harness.session.nextStep == 0 && harness.journal.isEmpty)
        _ = harness.wake(after: 1)
        _ = harness.poll()
        #expect(harness.journal.map(\.step) == [0] && harness.session.nextStep == 1)
    }

    @Test func theElectedStateIsBackedUpEveryCheckpointIntervalAndAFailureWaitsBeforeTheNextTry() {
        var harness = Harness(checkpointEvery: 2)
        for index in 0..<3 { harness.peer(index, step: 2, hash: 7) }
        harness.peer(3, step: 2, hash: 9)
        var asked: [Session.CheckpointSource] = []
        _ = harness.poll { source in
            asked.append(source)
            return .checkpointFailed(reason: "no donor answered")
        }
        #expect(asked.count == 1 && asked[0].step == 2 && asked[0].hash == [UInt8](repeating: 7, count: 32))
        #expect(asked[0].donors.count == 3, "only the peers holding the elected state are asked")
        // Within the 15 s retry pause nobody is asked; after it, again.
        _ = harness.wake(after: 10)
        _ = harness.poll { asked.append($0); return .checkpointFailed(reason: "again") }
        #expect(asked.count == 1)
        _ = harness.wake(after: 6)
        let saved = StateAnnouncement(step: 2, stateHash: [UInt8](repeating: 7, count: 32), stateBytes: Self.stateBytes, host: "10.0.0.1",
                                      port: 7000, timestampMilliseconds: 0)
        let directives = harness.poll { asked.append($0); return .checkpointSaved(saved) }
        #expect(asked.count == 2 && harness.session.lastCheckpointStep == 2)
        // The new checkpoint is announced at once, stamped with the time of the announcement.
        var announced = saved
        announced.timestampMilliseconds = harness.now.wall.millisecondsSinceEpoch
        #expect(directives.contains(.announceCheckpoint(announced)))
        #expect(harness.shown?.hashMismatches == 1, "two states announced at step 2")
    }

    @Test func theServedCheckpointAndTheConfigArePublishedAtStartAndEveryFiveMinutes() {
        let served = StateAnnouncement(step: 4, stateHash: [UInt8](repeating: 3, count: 32), stateBytes: Self.stateBytes, host: "10.0.0.1",
                                       port: 7000, timestampMilliseconds: 0)
        var session = Session(settings: .init(targetBatchSize: 32, stateBytes: Self.stateBytes, checkpointEvery: 50))
        let clock = ManualClock(wall: Self.startWall)
        let now = clock.now()
        #expect(session.start(.init(nextStep: 5, lastCheckpointStep: 4, servedCheckpoint: served), at: now)
            == [.publishRevocations, .publishConfig, .readRun])
        var announced = served
        announced.timestampMilliseconds = Self.startWall.millisecondsSinceEpoch
        #expect(session.handle(.runRead(progress: [], state: [], banned: []), at: now).last == .announceCheckpoint(announced))
        #expect(session.handle(.checkpointAnnounced, at: now) == [.sleep(until: .zero + .seconds(1))])
        var configs = 0, announcements = 0
        for _ in 0..<600 {
            clock.advance(by: .seconds(1))
            let later = clock.now()
            if session.handle(.woke, at: later).contains(.publishConfig) { configs += 1 }
            let after = session.handle(.runRead(progress: [], state: [], banned: []), at: later)
            if case .announceCheckpoint = after.last {
                announcements += 1
                _ = session.handle(.checkpointAnnounced, at: later)
            }
        }
        #expect(configs == 2 && announcements == 2, "at 300 s and 600 s")
    }

    @Test func stateAnnouncementsOfAnotherSizeAreReportedAsOffences() {
        var harness = Harness()
        harness.peer(0, step: 1)
        harness.state.append(OwnedRecord(writer: Self.peers[4], value: StateAnnouncement(
            step: 1, stateHash: [UInt8](repeating: 5, count: 32), stateBytes: Self.stateBytes * 2, host: "127.0.0.1", port: 7004,
            timestampMilliseconds: harness.now.wall.millisecondsSinceEpoch)))
        let directives = harness.poll()
        #expect(directives.contains { if case .reportOffence(Self.peers[4], _) = $0 { true } else { false } })
    }
}
