import Averaging

/// Downloads a peer's training state (parameters, momentum) in chunks from several donors at
/// once, the way a new or lagging volunteer catches up with the run.
///
/// hivemind fetches state from a single donor, which makes that donor a choke point when many
/// peers join together; here chunks are spread over every donor that announced the same state,
/// a donor that fails or stalls has its chunks reassigned, and the download fails (with a reason)
/// only when no donor is left. A pure state machine: the shell sends requests, feeds replies and
/// timeouts back, and verifies the state hash when it reports `completed`.
public struct StateDownload: Sendable {
    public struct Settings: Sendable, Equatable {
        public var chunkBytes: Int = 1 << 20
        public var requestsInFlightPerDonor: Int = 2
        public var requestTimeout: Duration = .seconds(10)

        public init() {}
    }

    public enum Action: Equatable, Sendable {
        case request(chunk: Int, bytes: Range<Int>, from: PeerID)
        case wake(at: Timestamp)
        case progress(receivedBytes: Int, totalBytes: Int)
        case completed
        case failed(String)
    }

    public let totalBytes: Int
    public let settings: Settings
    private var donors: [PeerID]
    private var pending: [Int]
    private var inFlight: [Int: (donor: PeerID, deadline: Timestamp)] = [:]
    private var received = Set<Int>()
    private var receivedBytes = 0
    private var finished = false

    public init(totalBytes: Int, donors: [PeerID], settings: Settings = Settings()) {
        precondition(totalBytes > 0 && settings.chunkBytes > 0, "a download needs bytes and a chunk size")
        self.totalBytes = totalBytes
        self.settings = settings
        self.donors = donors
        pending = Array(0..<((totalBytes + settings.chunkBytes - 1) / settings.chunkBytes))
    }

    public var chunkCount: Int { (totalBytes + settings.chunkBytes - 1) / settings.chunkBytes }

    public func byteRange(ofChunk chunk: Int) -> Range<Int> {
        (chunk * settings.chunkBytes)..<min(totalBytes, (chunk + 1) * settings.chunkBytes)
    }

    public mutating func start(now: Timestamp) -> [Action] {
        guard !donors.isEmpty else { return fail("no up-to-date peer offered its state") }
        return dispatch(now: now)
    }

    /// A chunk arrived; the caller has already copied its bytes into place.
    public mutating func onChunk(_ chunk: Int, byteCount: Int, from donor: PeerID, now: Timestamp) -> [Action] {
        guard !finished, let request = inFlight[chunk], request.donor == donor else { return [] }
        guard byteCount == byteRange(ofChunk: chunk).count else {
            return onDonorFailed(donor, now: now)
        }
        inFlight[chunk] = nil
        received.insert(chunk)
        receivedBytes += byteCount
        var actions: [Action] = [.progress(receivedBytes: receivedBytes, totalBytes: totalBytes)]
        if received.count == chunkCount {
            finished = true
            actions.append(.completed)
            return actions
        }
        return actions + dispatch(now: now)
    }

    /// A donor refused, disconnected or sent a wrong-sized chunk: its chunks go to the others.
    public mutating func onDonorFailed(_ donor: PeerID, now: Timestamp) -> [Action] {
        guard !finished, donors.contains(donor) else { return [] }
        donors.removeAll { $0 == donor }
        for (chunk, request) in inFlight where request.donor == donor {
            inFlight[chunk] = nil
            pending.append(chunk)
        }
        guard !donors.isEmpty else { return fail("every donor failed before the state was complete") }
        return dispatch(now: now)
    }

    public mutating func onDeadline(now: Timestamp) -> [Action] {
        let stalled = Set(inFlight.values.filter { $0.deadline <= now }.map(\.donor))
        var actions: [Action] = []
        for donor in stalled.sorted() { actions += onDonorFailed(donor, now: now) }
        return actions
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
