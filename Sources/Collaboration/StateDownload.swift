import Averaging
import struct DHT.Offence

/// Downloads a peer's training state (parameters, momentum) in chunks from several donors at
/// once, the way a new or lagging volunteer catches up with the run.
///
/// hivemind fetches state from a single donor, which makes that donor a choke point when many
/// peers join together; here chunks are spread over every donor that announced the same state,
/// a donor that fails or stalls has its chunks reassigned, and the download fails (with a reason)
/// only when no donor is left. The chunks' digests (`StateManifest`) come first, from one donor
/// after another until one sends digests that hash to the announced state; every chunk is then
/// checked against its digest as it arrives, so a donor that lies is dropped and reported and
/// the others finish the download. A pure state machine: the shell sends requests and feeds
/// replies and timeouts back; the machine keeps the verified bytes.
public struct StateDownload: Sendable {
    public struct Settings: Sendable, Equatable {
        /// The protocol's chunk size, which the manifest's digests cover; other sizes in tests only.
        public var chunkBytes: Int = StateManifest.chunkBytes
        public var requestsInFlightPerDonor: Int = 2
        public var requestTimeout: Duration = .seconds(10)

        public init() {}
    }

    public enum Action: Equatable, Sendable {
        /// Ask the donor for the state's chunk digests (`stateManifestRequest`).
        case requestManifest(from: PeerID)
        case request(chunk: Int, bytes: Range<Int>, from: PeerID)
        /// The donor sent what no honest donor sends; it has been dropped.
        case report(donor: PeerID, Offence)
        case wake(at: Timestamp)
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
    private var manifestRequest: (donor: PeerID, deadline: Timestamp)?
    private var donors: [PeerID]
    private var pending: [Int]
    private var inFlight: [Int: (donor: PeerID, deadline: Timestamp)] = [:]
    private var received = Set<Int>()
    private var receivedBytes = 0
    private var finished = false

    /// A download of the state announced as `stateHash` at `step`, of `totalBytes` bytes.
    public init(step: Int, stateHash: [UInt8], totalBytes: Int, donors: [PeerID], settings: Settings = Settings()) {
        precondition(totalBytes > 0 && settings.chunkBytes > 0, "a download needs bytes and a chunk size")
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

    public mutating func start(now: Timestamp) -> [Action] {
        guard !donors.isEmpty else { return fail("no up-to-date peer offered its state") }
        return askForManifest(now: now)
    }

    /// The chunk digests `donor` sent for this state.
    public mutating func onManifest(_ chunkDigests: [UInt8], from donor: PeerID, now: Timestamp) -> [Action] {
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

    /// Chunk `chunk` as `donor` sent it; kept only if it matches the manifest.
    public mutating func onChunk(_ chunk: Int, bytes: ArraySlice<UInt8>, from donor: PeerID, now: Timestamp) -> [Action] {
        guard !finished, let manifest, let request = inFlight[chunk], request.donor == donor else { return [] }
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
    public mutating func onDonorFailed(_ donor: PeerID, now: Timestamp) -> [Action] {
        guard !finished, donors.contains(donor) else { return [] }
        donors.removeAll { $0 == donor }
        for (chunk, request) in inFlight where request.donor == donor {
            inFlight[chunk] = nil
            pending.append(chunk)
        }
        guard !donors.isEmpty else { return fail("every donor failed before the state was complete") }
        guard manifest != nil else {
            guard manifestRequest?.donor == donor else { return [] }
            return askForManifest(now: now)
        }
        return dispatch(now: now)
    }

    public mutating func onDeadline(now: Timestamp) -> [Action] {
        var stalled = Set(inFlight.values.filter { $0.deadline <= now }.map(\.donor))
        if let manifestRequest, manifestRequest.deadline <= now { stalled.insert(manifestRequest.donor) }
        var actions: [Action] = []
        for donor in stalled.sorted() { actions += onDonorFailed(donor, now: now) }
        return actions
    }

    private mutating func askForManifest(now: Timestamp) -> [Action] {
        let donor = donors[0]
        let deadline = now + settings.requestTimeout
        manifestRequest = (donor, deadline)
        return [.requestManifest(from: donor), .wake(at: deadline)]
    }

    private mutating func distrust(_ donor: PeerID, _ offence: Offence, now: Timestamp) -> [Action] {
        [.report(donor: donor, offence)] + onDonorFailed(donor, now: now)
    }

    /// Fills every donor's request slots, spreading chunks round-robin.
    private mutating func dispatch(now: Timestamp) -> [Action] {
        var actions: [Action] = []
        pending.sort()
        var assignedAny = true
        while !pending.isEmpty && assignedAny {
            assignedAny = false
            for donor in donors where !pending.isEmpty {
                let load = inFlight.values.filter { $0.donor == donor }.count
                guard load < settings.requestsInFlightPerDonor else { continue }
                let chunk = pending.removeFirst()
                inFlight[chunk] = (donor, now + settings.requestTimeout)
                actions.append(.request(chunk: chunk, bytes: byteRange(ofChunk: chunk), from: donor))
                assignedAny = true
            }
        }
        if let earliest = inFlight.values.map(\.deadline).min() { actions.append(.wake(at: earliest)) }
        return actions
    }

    private mutating func fail(_ reason: String) -> [Action] {
        finished = true
        return [.failed(reason)]
    }
}
