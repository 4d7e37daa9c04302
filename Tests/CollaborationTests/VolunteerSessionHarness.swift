import CohortBase
import Averaging
import DHT
import Testing
import Wire
@testable import Collaboration

/// One volunteer's session on a virtual clock, with the run's DHT records kept in memory: the
/// tests script what the other peers wrote and what each directive's outcome was.
struct VolunteerSessionHarness {
    static let keys = RunKeys(runName: "run")
    static let stateBytes = 4_000
    static let elementCount = 500
    static let startWall = WallClockInstant(millisecondsSinceEpoch: 1_800_000_000_000)

    let identity: PeerIdentity
    var session: VolunteerSession
    /// The virtual clock; monotonic time starts at zero.
    let clock = ManualClock(wall: startWall)
    /// Records by key, one per writer.
    var records: [RecordKey: [PeerID: SignedRecord]] = [:]
    /// Every directive handed out, in order.
    var directives: [VolunteerSession.Directive] = []
    /// The matchmaking read out in the background (`readMatchmakingWhileTraining`), until it is
    /// answered or cancelled.
    var matchmakingReadOut: MatchmakingKey?
    /// Samples `answerMatchmaking` trained while groups formed.
    var trainedWhileMatchmaking = 0

    var now: VolunteerSession.Now { clock.now() }
    var monotonic: MonotonicInstant { clock.now().monotonic }

    init(identity: PeerIdentity, coordinator: PeerID, targetBatch: Int = 32, configure: (inout VolunteerSession.Settings) -> Void = { _ in }) {
        self.identity = identity
        var settings = VolunteerSession.Settings(
            me: identity.peerID, clientMode: false, address: "127.0.0.1:7000", coordinator: coordinator,
            elementCount: Self.elementCount, stateBytes: Self.stateBytes, targetBatchSize: targetBatch,
            gatherWindow: .seconds(2), averagingTimeout: .seconds(10))
        configure(&settings)
        session = VolunteerSession(settings: settings)
    }

    static func identities(_ count: Int, seed: UInt64 = 7) -> [PeerIdentity] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in PeerIdentity(using: &generator) }
    }

    static func hash(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 32) }

    func advance(_ duration: Duration) {
        clock.advance(by: duration)
    }

    mutating func start() -> [VolunteerSession.Directive] {
        record(session.start(at: now))
    }

    mutating func feed(_ event: VolunteerSession.Event) -> [VolunteerSession.Directive] {
        record(session.handle(event, at: now))
    }

    /// Keeps the batch, stores what it publishes, and checks the shell's contract: only the
    /// last directive awaits an event, or the batch ends the session.
    private mutating func record(_ batch: [VolunteerSession.Directive]) -> [VolunteerSession.Directive] {
        directives += batch
        #expect(batch.dropLast().allSatisfy { !$0.awaitsEvent }, "only the last directive may await an event: \(batch)")
        if let last = batch.last, case .leave = last {} else {
            #expect(batch.last?.awaitsEvent == true, "a batch ends with a directive to answer: \(batch)")
        }
        for directive in batch {
            switch directive {
            case .readMatchmakingWhileTraining(let key): matchmakingReadOut = key
            case .publishProgress(let progress, _): store(Self.keys.progress, progress.encoded, by: identity)
            case .publishDeclaration(let declaration, let key): store(Self.keys.declarations(key), declaration.encoded(), by: identity)
            case .publishPlan(let plan, let key): store(Self.keys.plan(key), plan.encoded(), by: identity)
            default: break
            }
        }
        return batch
    }

    mutating func store(_ key: RecordKey, _ value: [UInt8], by writer: PeerIdentity) {
        records[key, default: [:]][writer.peerID] = writer.signRecord(key: key, subkey: writer.peerID.bytes, value: value,
                                                                     expiresAt: Self.startWall + .seconds(3_600))
    }

    func read(_ key: RecordKey) -> [SignedRecord] {
        records[key].map { $0.values.sorted { $0.ownerID < $1.ownerID } } ?? []
    }

    func progressRecords() -> [OwnedRecord<PeerProgress>] {
        OwnedRecord.decoding(read(Self.keys.progress), with: PeerProgress.init(decoding:))
    }

    func announcements(under key: RecordKey = keys.state) -> [OwnedRecord<StateAnnouncement>] {
        OwnedRecord.decoding(read(key), with: StateAnnouncement.init(decoding:))
    }

    /// Another peer's progress record, written now.
    mutating func progress(of peer: PeerIdentity, step: Int, samples: Int, rate: Double = 10) {
        let progress = PeerProgress(step: step, samplesAccumulated: samples, samplesPerSecond: rate, loss: 2,
                                    timestampMilliseconds: now.wall.millisecondsSinceEpoch)
        store(Self.keys.progress, progress.encoded, by: peer)
    }

    /// Another peer's state announcement, written now.
    mutating func announcement(of peer: PeerIdentity, step: Int, hash: [UInt8], port: UInt16 = 7100) {
        let announcement = StateAnnouncement(step: step, stateHash: hash, stateBytes: Self.stateBytes, host: "127.0.0.1", port: port,
                                             timestampMilliseconds: now.wall.millisecondsSinceEpoch)
        store(Self.keys.state, announcement.encoded, by: peer)
    }

    /// Answers `train` directives, `seconds` apart, until the session asks for something else.
    mutating func trainUntilItLooksAtTheRun(samples: Int = 4, seconds: Double = 0.1) -> [VolunteerSession.Directive] {
        var batch: [VolunteerSession.Directive] = [.train]
        for _ in 0..<10_000 where batch == [.train] {
            advance(.milliseconds(Int64(seconds * 1000)))
            batch = feed(.trained(samples: samples, seconds: seconds, loss: 2))
        }
        #expect(batch != [.train], "the session never looked at the run")
        return batch
    }

    /// The notes handed out so far.
    var notes: [VolunteerSession.Note] {
        directives.compactMap { if case .note(let note) = $0 { note } else { nil } }
    }
}
