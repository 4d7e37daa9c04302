import CohortBase
import Averaging
import Collaboration

/// A request `StateDownload` asked for, as the driver hands it to its `fetch`.
enum StateDownloadRequest: Hashable, Sendable {
    case manifest(from: PeerID)
    case chunk(Int, bytes: Range<Int>, from: PeerID)

    var donor: PeerID {
        switch self {
        case .manifest(let donor), .chunk(_, _, let donor): donor
        }
    }
}

/// What a donor answered to a `StateDownloadRequest`.
enum StateDownloadReply: Sendable {
    case manifest(chunkDigests: [UInt8])
    case chunk(ArraySlice<UInt8>)
    /// No reply, an `error` reply, or one that does not answer the request.
    case failed
}

/// Runs a `StateDownload`: every request as its own task, every reply fed to the machine as
/// it arrives (so the requests it then emits start at once and one slow donor holds up no
/// other), and `onDeadline` called at the newest `.wake(at:)` on `clock`.
///
/// Time reaches the machine as the `clock`'s time since the download began; tests pass a
/// manual clock. The driver ends as soon as the machine completes or fails: requests still
/// outstanding are cancelled, not waited for.
struct StateDownloadDriver<C: Clock>: Sendable where C.Duration == Duration {
    let clock: C
    let fetch: @Sendable (StateDownloadRequest) async -> StateDownloadReply

    private enum Event: Sendable {
        case replied(StateDownloadRequest, StateDownloadReply)
        case alarm(generation: Int)
    }

    /// Runs `download` to its end and returns the state; `observe` sees the actions the driver
    /// does not carry out itself (`.report`, `.progress`).
    func run(_ download: StateDownload, observe: (StateDownload.Action) -> Void) async throws(PeerError) -> [UInt8] {
        var download = download
        let origin = clock.now
        let outcome: Result<[UInt8], PeerError> = await withTaskGroup(of: Event.self) { group in
            var alarm = DownloadAlarm()
            func now() -> MonotonicInstant { .zero + origin.duration(to: clock.now) }
            func startSleeper(_ sleeper: DownloadAlarm.Sleeper) {
                group.addTask { [clock] in
                    try? await clock.sleep(until: origin.advanced(by: sleeper.time - .zero), tolerance: nil)
                    return .alarm(generation: sleeper.generation)
                }
            }
            var actions = download.start(now: now())
            while true {
                for action in actions {
                    switch action {
                    case .requestManifest(let donor): startFetch(.manifest(from: donor), in: &group)
                    case .request(let chunk, let bytes, let donor): startFetch(.chunk(chunk, bytes: bytes, from: donor), in: &group)
                    case .wake(let time): alarm.onWake(at: time).map(startSleeper)
                    case .completed:
                        group.cancelAll()
                        return .success(download.state)
                    case .failed(let reason):
                        group.cancelAll()
                        return .failure(PeerError("state download failed: \(reason)"))
                    case .report, .progress: observe(action)
                    }
                }
                guard let event = await group.next() else {
                    preconditionFailure("a state download waits on nothing: no request in flight and no wake")
                }
                switch event {
                case .replied(let request, let reply): actions = Self.feed(reply, to: request, of: &download, now: now())
                case .alarm(let generation):
                    switch alarm.onFired(generation: generation) {
                    case .deadline: actions = download.onDeadline(now: now())
                    case .rearm(let sleeper):
                        startSleeper(sleeper)
                        actions = []
                    case .ignored: actions = []
                    }
                }
            }
        }
        return try outcome.get()
    }

    private func startFetch(_ request: StateDownloadRequest, in group: inout TaskGroup<Event>) {
        let fetch = self.fetch
        group.addTask { .replied(request, await fetch(request)) }
    }

    private static func feed(_ reply: StateDownloadReply, to request: StateDownloadRequest,
                             of download: inout StateDownload, now: MonotonicInstant) -> [StateDownload.Action] {
        switch (request, reply) {
        case (.manifest(let donor), .manifest(let digests)): download.onManifest(digests, from: donor, now: now)
        case (.chunk(let chunk, _, let donor), .chunk(let bytes)): download.onChunk(chunk, bytes: bytes, from: donor, now: now)
        case (_, .failed), (.manifest, .chunk), (.chunk, .manifest): download.onDonorFailed(request.donor, now: now)
        }
    }
}
