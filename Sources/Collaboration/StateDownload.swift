import CohortBase
import Averaging
import struct DHT.Offence

/// Downloads a peer's training state (parameters, momentum) in chunks from several donors at
/// once, the way a new or lagging volunteer catches up with the run.
///
/// hivemind fetches state from a single donor, which makes that donor a choke point when many
/// peers join together; here chunks are spread over every donor that announced the same state,
/// each donor asks for its next chunk as soon as one arrives (so fast donors serve more), the last
/// chunks are also asked of idle donors (the end game), a donor that fails or stalls past
/// `requestTimeout` has its chunks reassigned, and the download fails (with a reason) only when
/// no donor is left. The chunks' digests (`StateManifest`) come first, from one donor
/// after another until one sends digests that hash to the announced state; every chunk is then
/// checked against its digest as it arrives, so a donor that lies is dropped and reported and
/// the others finish the download. A pure state machine: the shell sends requests, feeds
/// each reply back as it arrives, and calls `onDeadline` at the newest `.wake(at:)` it was
/// given; the machine keeps the verified bytes.
public struct StateDownload: Sendable {
    public struct Settings: Sendable, Equatable {
        /// The protocol's chunk size, which the manifest's digests cover; other sizes in tests only.
        public var chunkBytes: Int = StateManifest.chunkBytes
        /// Enough to keep a donor's link busy while its next request crosses the network.
        public var requestsInFlightPerDonor: Int = 2
        /// How long a request may go unanswered before its donor counts as stalled and is dropped.
        public var requestTimeout: Duration = .seconds(10)

        public init() {}
    }

    public enum Action: Equatable, Sendable {
        /// Ask the donor for the state's chunk digests (`stateManifestRequest`).
        case requestManifest(from: PeerID)
        case request(chunk: Int, bytes: Range<Int>, from: PeerID)
        /// The donor sent what no honest donor sends; it has been dropped.
        case report(donor: PeerID, Offence)
        /// Call `onDeadline` at this time; replaces every earlier `.wake`.
        case wake(at: MonotonicInstant)
        case progress(receivedBytes: Int, totalBytes: Int)
        case completed
        case failed(String)
    }

    public let step: Int
    public let stateHash: [UInt8]
    public let totalBytes: Int
    public let settings: Settings
    /// The verified chunks in place: the whole state once `completed` was reported.
    public private(set) var state: [UInt8]
    private var manifest: StateManifest?
    private var manifestRequest: Assignment?
    private var donors: [PeerID]
    private var pending: [Int]
    /// The donors asked for each chunk not yet received: one, or two in the end game.
    private var inFlight: [Int: [Assignment]] = [:]
    private var received = Set<Int>()
    private var receivedBytes = 0
    private var finished = false

    private struct Assignment: Equatable, Sendable {
        let donor: PeerID
        let deadline: MonotonicInstant
    }

    /// A download of the state announced as `stateHash` at `step`, of `totalBytes` bytes.
    public init(step: Int, stateHash: [UInt8], totalBytes: Int, donors: [PeerID], settings: Settings = Settings()) {
        precondition(totalBytes > 0 && settings.chunkBytes > 0, "a download needs bytes and a chunk size")
        precondition(settings.requestsInFlightPerDonor > 0, "a donor needs at least one request slot")
        self.step = step
        self.stateHash = stateHash
        self.totalBytes = totalBytes
        self.settings = settings
        self.donors = donors
        state = [UInt8](repeating: 0, count: totalBytes)
        pending = Array(0..<StateManifest.chunkCount(stateBytes: totalBytes, chunkBytes: settings.chunkBytes))
    }

    public var chunkCount: Int { StateManifest.chunkCount(stateBytes: totalBytes, chunkBytes: settings.chunkBytes) }

    public func byteRange(ofChunk chunk: Int) -> Range<Int> {
        (chunk * settings.chunkBytes)..<min(totalBytes, (chunk + 1) * settings.chunkBytes)
    }

    public mutating func start(now: MonotonicInstant) -> [Action] {
        guard !donors.isEmpty else { return fail("no up-to-date peer offered its state") }
        return askForManifest(now: now)
    }

    /// The chunk digests `donor` sent for this state.
    public mutating func onManifest(_ chunkDigests: [UInt8], from donor: PeerID, now: MonotonicInstant) -> [Action] {
        guard !finished, manifest == nil, manifestRequest?.donor == donor else { return [] }
        do {
            manifest = try StateManifest(step: step, stateBytes: totalBytes, chunkDigests: chunkDigests,
                                         claimedHash: stateHash, chunkBytes: settings.chunkBytes)
        } catch {
            return distrust(donor, Offence(.falseClaim, "sent a wrong manifest of the state of step \(step): \(error)"), now: now)
        }
        manifestRequest = nil
        return dispatch(now: now)
    }

    /// Chunk `chunk` as `donor` sent it; kept only if it matches the manifest. A reply to a
    /// request the machine no longer waits for (the chunk came from another donor first, or
    /// the donor was dropped) is ignored.
    public mutating func onChunk(_ chunk: Int, bytes: ArraySlice<UInt8>, from donor: PeerID, now: MonotonicInstant) -> [Action] {
        guard !finished, let manifest, inFlight[chunk]?.contains(where: { $0.donor == donor }) == true else { return [] }
        guard manifest.holds(bytes, asChunk: chunk) else {
            return distrust(donor, Offence(.falseClaim, "sent chunk \(chunk) of the state of step \(step) unlike its manifest"), now: now)
        }
        inFlight[chunk] = nil
        received.insert(chunk)
        receivedBytes += bytes.count
        state.replaceSubrange(byteRange(ofChunk: chunk), with: bytes)
        var actions: [Action] = [.progress(receivedBytes: receivedBytes, totalBytes: totalBytes)]
        if received.count == chunkCount {
            finished = true
            actions.append(.completed)
            return actions
        }
        return actions + dispatch(now: now)
    }

    /// A donor refused, disconnected or stalled: its requests go to the others.
    public mutating func onDonorFailed(_ donor: PeerID, now: MonotonicInstant) -> [Action] {
        guard !finished, donors.contains(donor) else { return [] }
        donors.removeAll { $0 == donor }
        for (chunk, assignments) in inFlight where assignments.contains(where: { $0.donor == donor }) {
            let others = assignments.filter { $0.donor != donor }
            inFlight[chunk] = others.isEmpty ? nil : others
            if others.isEmpty { pending.append(chunk) }
        }
        guard !donors.isEmpty else { return fail("every donor failed before the state was complete") }
        guard manifest != nil else {
            guard manifestRequest?.donor == donor else { return [] }
            return askForManifest(now: now)
        }
        return dispatch(now: now)
    }

    /// The time of a `.wake(at:)` came: donors with a request past its deadline are dropped
    /// (without blame: a slow donor may be honest) and their chunks go to the others. Always
    /// ends with the next wake while requests are outstanding, so a shell whose timer fired
    /// early still learns when to come back.
    public mutating func onDeadline(now: MonotonicInstant) -> [Action] {
        guard !finished else { return [] }
        var stalled = Set(inFlight.values.joined().filter { $0.deadline <= now }.map(\.donor))
        if let manifestRequest, manifestRequest.deadline <= now { stalled.insert(manifestRequest.donor) }
        var actions: [Action] = []
        for donor in stalled.sorted() { actions += onDonorFailed(donor, now: now) }
        if !finished, !actions.contains(where: { if case .wake = $0 { true } else { false } }), let wake = earliestDeadline {
            actions.append(.wake(at: wake))
        }
        return actions
    }

    private var earliestDeadline: MonotonicInstant? {
        [manifestRequest?.deadline, inFlight.values.joined().map(\.deadline).min()].compactMap { $0 }.min()
    }

    private mutating func askForManifest(now: MonotonicInstant) -> [Action] {
        let donor = donors[0]
        let deadline = now + settings.requestTimeout
        manifestRequest = Assignment(donor: donor, deadline: deadline)
        return [.requestManifest(from: donor), .wake(at: deadline)]
    }

    private mutating func distrust(_ donor: PeerID, _ offence: Offence, now: MonotonicInstant) -> [Action] {
        [.report(donor: donor, offence)] + onDonorFailed(donor, now: now)
    }

    private func load(of donor: PeerID) -> Int {
        inFlight.values.reduce(0) { count, assignments in count + assignments.count { $0.donor == donor } }
    }

    /// Fills every donor's request slots, spreading chunks round-robin. A donor asks for its
    /// next chunk as soon as one arrives, so a fast donor serves more of them than a slow one.
    private mutating func dispatch(now: MonotonicInstant) -> [Action] {
        var actions: [Action] = []
        pending.sort()
        var assignedAny = true
        while !pending.isEmpty && assignedAny {
            assignedAny = false
            for donor in donors where !pending.isEmpty && load(of: donor) < settings.requestsInFlightPerDonor {
                let chunk = pending.removeFirst()
                actions.append(assign(chunk, to: donor, now: now))
                assignedAny = true
            }
        }
        if pending.isEmpty { actions += duplicateStragglers(now: now) }
        if let earliest = earliestDeadline { actions.append(.wake(at: earliest)) }
        return actions
    }

    /// The end game (as in BitTorrent): once no chunk is left to hand out, a donor with nothing
    /// in flight also asks for the oldest chunk another donor still owes, so the last chunks
    /// do not wait on the slowest donor; whichever copy arrives first is kept. A chunk is asked
    /// of two donors at most, so what is fetched twice is at most the chunks in flight when
    /// the end game began (donors × `requestsInFlightPerDonor`).
    private mutating func duplicateStragglers(now: MonotonicInstant) -> [Action] {
        var actions: [Action] = []
        for donor in donors where load(of: donor) == 0 {
            let owed = inFlight.filter { $0.value.count == 1 && $0.value[0].donor != donor }
            guard let oldest = owed.min(by: { ($0.value[0].deadline, $0.key) < ($1.value[0].deadline, $1.key) }) else { break }
            actions.append(assign(oldest.key, to: donor, now: now))
        }
        return actions
    }

    private mutating func assign(_ chunk: Int, to donor: PeerID, now: MonotonicInstant) -> Action {
        inFlight[chunk, default: []].append(Assignment(donor: donor, deadline: now + settings.requestTimeout))
        return .request(chunk: chunk, bytes: byteRange(ofChunk: chunk), from: donor)
    }

    private mutating func fail(_ reason: String) -> [Action] {
        finished = true
        return [.failed(reason)]
    }
}
