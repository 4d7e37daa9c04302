import CohortBase
import Averaging
import Collaboration
import DHT
import Foundation
import Wire

/// A whole collaborative run on one virtual clock: every volunteer's `VolunteerSession` (the
/// state machine a real peer runs), with the trainer, the DHT, the all-reduce and the links
/// replaced by models (`VolunteerProfile`, `RecordBoard`, `SimulatedRound`).
///
/// The simulator carries out each session's directives the way `PeerSession` does: a batch's
/// directives one after another, each DHT write taking a lookup's time, and the last one
/// answered by an event at the time its model says. Training is answered a progress interval's
/// micro-batches at a time, since the session only looks at the run that often. Under local
/// SGD a round may average in the background while the volunteer trains on
/// (`RunSimulation+Training`).
public final class RunSimulation {
    /// Donors a replayed gradient is fetched from at once (the peer's `UpdateFetcher`).
    static let replayDonorsShared = 4

    enum Occurrence: Sendable {
        case arrive
        case answer(volunteer: Int, incarnation: Int, VolunteerSession.Event)
        /// The chunk's micro-batches are done, unless it was cut short since.
        case trained(volunteer: Int, incarnation: Int, TrainingChunk)
        case read(volunteer: Int, incarnation: Int, Read)
        /// A background read finished: its answer waits for the volunteer's next `train`.
        case backgroundRead(volunteer: Int, incarnation: Int)
        /// The background matchmaking read finished: likewise.
        case backgroundMatchmakingRead(volunteer: Int, incarnation: Int, MatchmakingKey)
        case downloaded(volunteer: Int, incarnation: Int, step: Int, hash: [UInt8]?)
        /// A replay ended: the states it led through, or nil when no donor had the chain.
        case replayed(volunteer: Int, incarnation: Int, states: [StateAtStep]?)
        /// A late join's background replay `number` was fetched: the states it leads through,
        /// or nil when no donor had the chain.
        case replayedInBackground(volunteer: Int, incarnation: Int, number: Int, states: [StateAtStep]?)
        case roundDeadline(planID: UInt64)
        /// The volunteer's round ended with `result`.
        case roundEnded(volunteer: Int, incarnation: Int, AllReduceResult)
        case depart(volunteer: Int, incarnation: Int)
        case report
    }

    enum Read: Sendable {
        case progress, state, checkpoint
        case donors(shard: Int)
        case matchmaking(MatchmakingKey)
    }

    public let settings: SimulationSettings
    var random: SplitMix64
    var board: RecordBoard
    private var queue = EventQueue<MonotonicInstant, Occurrence>()
    var volunteers: [SimulatedVolunteer] = []
    var index: [PeerID: Int] = [:]
    var rounds: [UInt64: SimulatedRound] = [:]
    /// The virtual clock: zero at the simulation's start.
    var time = MonotonicInstant.zero
    private let typicalLatency: Duration
    var metrics = Metrics()

    struct Metrics {
        var events = 0
        var groupRounds = 0
        var groupMembers = 0
        var groupSamples = 0.0
        var roundTime = Duration.zero
        var aloneSteps = 0
        var failedAttempts = 0
        var stateDownloads = 0
        var downloadBytes = 0.0
        var stateReplays = 0
        var lateJoins = 0
        var backgroundReplays = 0
        var replayBytes = 0.0
        var averagingBytes = 0.0
        var usefulComputeSeconds = 0.0
        var usefulSamples = 0.0
        var hashMismatches = 0
        /// Time volunteers spent in the rounds whose outcome they took, from joining to
        /// taking it, and the compute seconds they trained meanwhile.
        var timeInRounds = Duration.zero
        var trainingSecondsInRounds = 0.0
    }

    public init(settings: SimulationSettings) throws(SimulationError) {
        try settings.validate()
        self.settings = settings
        random = SplitMix64(seed: settings.seed)
        board = RecordBoard(costs: .measured(nodes: min(settings.volunteers, 20_000), seed: settings.seed), shards: settings.effectiveShards)
        typicalLatency = .seconds((settings.latencyRange.lowerBound + settings.latencyRange.upperBound) / 2)
    }

    /// Runs the whole simulated time; `progress` hears every `reportEverySeconds` simulated.
    public func run(progress: (SimulationProgress) -> Void = { _ in }) -> SimulationReport {
        let started = Date()
        // Volunteers come online over the first minute, not in one instant.
        let stagger = settings.arrivalSeconds ?? min(60, settings.simulatedSeconds / 10)
        for _ in 0..<settings.volunteers {
            schedule(.arrive, at: MonotonicInstant.zero + .seconds(Double.random(in: 0...stagger, using: &random)))
        }
        let reportEvery = Duration.seconds(settings.reportEverySeconds)
        let end = MonotonicInstant.zero + .seconds(settings.simulatedSeconds)
        schedule(.report, at: MonotonicInstant.zero + reportEvery)
        while let (instant, occurrence) = queue.popFirst() {
            if instant > end { break }
            time = instant
            metrics.events += 1
            if case .report = occurrence {
                progress(SimulationProgress(simulatedSeconds: (time - .zero) / .seconds(1), totalSeconds: settings.simulatedSeconds,
                                            online: volunteers.filter(\.isOnline).count, rounds: metrics.groupRounds,
                                            steps: highestStep, wallSeconds: Date().timeIntervalSince(started)))
                schedule(.report, at: time + reportEvery)
                continue
            }
            handle(occurrence)
        }
        time = end
        return report(wallSeconds: Date().timeIntervalSince(started))
    }

    private var highestStep: Int { volunteers.map(\.stateStep).max() ?? 0 }

    /// Schedules `occurrence` at `instant`, or now if that has passed. The clock ticks in whole
    /// microseconds: an event falls on the tick at or before its instant, and the events of one
    /// tick happen in the order they were scheduled.
    func schedule(_ occurrence: Occurrence, at instant: MonotonicInstant) {
        let due = max(instant, time)
        queue.schedule(occurrence, at: MonotonicInstant(nanoseconds: due.nanoseconds - due.nanoseconds % Self.tickNanoseconds))
    }

    private static let tickNanoseconds: Int64 = 1_000

    /// The wall clock when the simulation starts: it moves on with the virtual clock.
    private static let wallClockAtStart = WallClockInstant(millisecondsSinceEpoch: 1_800_000_000_000)

    var now: VolunteerSession.Now {
        VolunteerSession.Now(monotonic: time, wall: Self.wallClockAtStart + (time - .zero))
    }

    private func isCurrent(_ volunteer: Int, _ incarnation: Int) -> Bool {
        volunteers[volunteer].isOnline && volunteers[volunteer].incarnation == incarnation
    }

    private func handle(_ occurrence: Occurrence) {
        switch occurrence {
        case .arrive:
            arrive()
        case .answer(let volunteer, let incarnation, let event):
            guard isCurrent(volunteer, incarnation) else { return }
            deliver(event, to: volunteer)
        case .trained(let volunteer, let incarnation, let chunk):
            guard isCurrent(volunteer, incarnation) else { return }
            finishTraining(chunk, by: volunteer)
        case .read(let volunteer, let incarnation, let read):
            guard isCurrent(volunteer, incarnation) else { return }
            deliver(self.read(read, by: volunteer), to: volunteer)
        case .backgroundRead(let volunteer, let incarnation):
            guard isCurrent(volunteer, incarnation) else { return }
            if volunteers[volunteer].awaitsBackgroundAnswer {
                volunteers[volunteer].awaitsBackgroundAnswer = false
                deliver(self.read(.progress, by: volunteer), to: volunteer)
            } else {
                volunteers[volunteer].backgroundAnswer = self.read(.progress, by: volunteer)
            }
        case .backgroundMatchmakingRead(let volunteer, let incarnation, let key):
            guard isCurrent(volunteer, incarnation) else { return }
            volunteers[volunteer].matchmakingAnswer = self.read(.matchmaking(key), by: volunteer)
        case .downloaded(let volunteer, let incarnation, let step, let hash):
            guard isCurrent(volunteer, incarnation) else { return }
            guard let hash else {
                deliver(.stateDownloadFailed(reason: "no donor serves the state"), to: volunteer)
                return
            }
            load(StateAtStep(step: step, hash: hash), by: volunteer)
            metrics.stateDownloads += 1
            metrics.downloadBytes += Double(settings.stateBytes)
            deliver(.stateLoaded(step: step), to: volunteer)
        case .replayed(let volunteer, let incarnation, let states):
            guard isCurrent(volunteer, incarnation) else { return }
            guard let states, let reached = states.last else {
                deliver(.stateReplayFailed(reason: "no donor holds the updates"), to: volunteer)
                return
            }
            for state in states.dropFirst() { volunteers[volunteer].reach(state, continuing: true, keep: updatesKept(by: volunteer)) }
            load(reached, by: volunteer)
            metrics.stateReplays += 1
            metrics.replayBytes += Double((states.count - 1) * settings.updateBytes)
            deliver(.stateLoaded(step: reached.step), to: volunteer)
        case .replayedInBackground(let volunteer, let incarnation, let number, let states):
            guard isCurrent(volunteer, incarnation), var replay = volunteers[volunteer].backgroundReplay, replay.number == number else { return }
            replay.fetched = .some(states)
            volunteers[volunteer].backgroundReplay = replay
            if replay.isAwaited { deliverBackgroundReplay(to: volunteer) }
        case .roundDeadline(let planID):
            finishRound(planID)
        case .roundEnded(let volunteer, let incarnation, let result):
            guard isCurrent(volunteer, incarnation) else { return }
            roundEnded(result, for: volunteer)
        case .depart(let volunteer, let incarnation):
            guard isCurrent(volunteer, incarnation) else { return }
            volunteers[volunteer].session.requestStop()
        case .report:
            break
        }
    }

    /// The volunteer holds `state` from the run now (downloaded or replayed): what it trained
    /// towards the next update is lost.
    private func load(_ state: StateAtStep, by volunteer: Int) {
        if volunteers[volunteer].stateStep != state.step || volunteers[volunteer].stateHash != state.hash {
            volunteers[volunteer].reach(state, continuing: false, keep: updatesKept(by: volunteer))
        }
        volunteers[volunteer].firstLoadedStep = volunteers[volunteer].firstLoadedStep ?? state.step
        forgetTraining(of: volunteer)
    }

    /// Updates a volunteer keeps for others to replay: none in client mode, since it serves nothing.
    private func updatesKept(by volunteer: Int) -> Int {
        volunteers[volunteer].profile.clientMode ? 0 : settings.replayUpdates
    }

    private func arrive() {
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: random.next()) }
        let id = PeerID(bytes: bytes)!
        let profile = VolunteerProfile.draw(from: settings, session: volunteers.count, using: &random)
        var sessionSettings = VolunteerSession.Settings(
            me: id, clientMode: profile.clientMode, address: "10.0.0.1:7000", coordinator: PeerID(bytes: [UInt8](repeating: 0, count: 32))!,
            elementCount: settings.parameters, stateBytes: settings.stateBytes, targetBatchSize: settings.samplesPerRound,
            gatherWindow: .milliseconds(Int64(settings.matchmakingSeconds * 1000)),
            averagingTimeout: .milliseconds(Int64(settings.averagingTimeoutSeconds * 1000)))
        sessionSettings.fixedBandwidth = UInt64(profile.uploadBitsPerSecond / 8)
        sessionSettings.replayableSteps = settings.replayUpdates
        sessionSettings.trainsWhileAveraging = settings.roundsOverlapTraining
        sessionSettings.joinsLate = settings.joinsLate
        sessionSettings.trainsWhileMatchmaking = settings.trainsWhileMatchmaking
        sessionSettings.localSGD = settings.localSGD
        sessionSettings.shards = settings.effectiveShards
        let volunteer = volunteers.count
        var newcomer = SimulatedVolunteer(id: id, profile: profile, session: VolunteerSession(settings: sessionSettings),
                                          incarnation: volunteer, joinedAt: time, stateHash: StateHashes.initial)
        newcomer.chainStates = [StateAtStep(step: 0, hash: StateHashes.initial)]
        volunteers.append(newcomer)
        index[id] = volunteer
        if let mean = settings.meanSessionSeconds {
            let length = -mean * log(1 - Double.random(in: 0..<1, using: &random))
            schedule(.depart(volunteer: volunteer, incarnation: volunteer), at: time + .seconds(length))
        }
        let directives = volunteers[volunteer].session.start(at: now)
        carryOut(directives, for: volunteer)
    }

    func deliver(_ event: VolunteerSession.Event, to volunteer: Int) {
        let directives = volunteers[volunteer].session.handle(event, at: now)
        carryOut(directives, for: volunteer)
    }

    private func read(_ read: Read, by volunteer: Int) -> VolunteerSession.Event {
        switch read {
        case .progress:
            { let (records, totals) = board.readProgress(by: volunteers[volunteer].id)
              return .progressRead(records, totals: totals) }()
        case .state: .stateAnnouncementsRead(board.readState(shard: board.shards.shard(of: volunteers[volunteer].id)))
        case .donors(let shard): .stateAnnouncementsRead(board.readState(shard: shard))
        case .checkpoint: .checkpointRead(board.readCheckpoint())
        case .matchmaking(let key):
            { let (plans, declarations) = board.readMatchmaking(key)
              return .matchmakingRead(plans: plans, declarations: declarations) }()
        }
    }

    /// Carries out one batch of directives from `time` on, as the peer's shell would.
    private func carryOut(_ directives: [VolunteerSession.Directive], for volunteer: Int) {
        var cursor = time
        let profile = volunteers[volunteer].profile
        let incarnation = volunteers[volunteer].incarnation
        func lookup() -> Duration { lookupTime(for: profile) }
        func answer(_ event: VolunteerSession.Event, at when: MonotonicInstant) {
            schedule(.answer(volunteer: volunteer, incarnation: incarnation, event), at: when)
        }
        func read(_ read: Read) {
            schedule(.read(volunteer: volunteer, incarnation: incarnation, read), at: cursor + lookup())
        }
        for directive in directives {
            switch directive {
            case .train:
                answerTrain(for: volunteer, from: cursor)
            case .checkStillAdmitted, .reportOffence:
                break
            case .averageAccumulatedGradients:
                takePseudoGradient(by: volunteer)
            case .rejoinIfIsolated:
                answer(.connectivityChecked(.connected), at: cursor)
            case .publishProgress(let progress, _):
                // The shell does not wait for it.
                board.write(progress: progress, by: volunteers[volunteer].id)
            case .publishShardTotal(let total, _):
                board.write(total: total, by: volunteers[volunteer].id)
            case .readProgress:
                read(.progress)
            case .readProgressWhileTraining:
                schedule(.backgroundRead(volunteer: volunteer, incarnation: incarnation), at: cursor + lookup())
            case .awaitProgressRead:
                if let finished = volunteers[volunteer].backgroundAnswer {
                    volunteers[volunteer].backgroundAnswer = nil
                    answer(finished, at: cursor)
                } else {
                    volunteers[volunteer].awaitsBackgroundAnswer = true
                }
            case .readStateAnnouncements:
                read(.state)
            case .readDonors(let shard):
                read(.donors(shard: shard))
            case .readCheckpoint:
                read(.checkpoint)
            case .readMatchmaking(let key):
                read(.matchmaking(key))
            case .readMatchmakingWhileTraining(let key):
                schedule(.backgroundMatchmakingRead(volunteer: volunteer, incarnation: incarnation, key), at: cursor + lookup())
            case .downloadState(let step, let hash, let donors):
                download(step: step, hash: hash, donors: donors, for: volunteer, from: cursor)
            case .replayUpdates(let fromStep, let fromHash, let toStep, let toHash, let donors):
                replay(from: StateAtStep(step: fromStep, hash: fromHash), to: StateAtStep(step: toStep, hash: toHash), donors: donors,
                       for: volunteer, from: cursor)
            case .announceState:
                let volunteerState = volunteers[volunteer]
                let announcement = StateAnnouncement(
                    step: volunteerState.stateStep, stateHash: volunteerState.stateHash, stateBytes: settings.stateBytes,
                    host: profile.clientMode ? "" : "10.0.0.1", port: profile.clientMode ? 0 : 7000,
                    timestampMilliseconds: now.wall.millisecondsSinceEpoch)
                board.write(state: announcement, by: volunteerState.id)
                cursor = cursor + lookup()
                answer(.stateAnnounced(step: volunteerState.stateStep, hash: volunteerState.stateHash), at: cursor)
            case .publishDeclaration(let declaration, let key):
                board.write(declaration: declaration, under: key, by: volunteers[volunteer].id)
                cursor = cursor + lookup()
            case .withdrawDeclaration(let declaration, let key):
                // The shell does not wait for it.
                board.write(declaration: declaration, under: key, by: volunteers[volunteer].id)
            case .publishPlan(let plan, let key):
                board.write(plan: plan, under: key, by: volunteers[volunteer].id)
                cursor = cursor + lookup()
            case .sleep(let until):
                answer(.woke, at: max(until, cursor))
            case .allReduce(let plan):
                startRound(plan, volunteer: volunteer, at: cursor, inBackground: false)
            case .allReduceInBackground(let plan):
                startRound(plan, volunteer: volunteer, at: cursor, inBackground: true)
            case .replayUpdatesInBackground(let fromStep, let fromHash, let toStep, let toHash, let donors):
                let number = (volunteers[volunteer].backgroundReplay?.number ?? 0) + 1
                volunteers[volunteer].backgroundReplay = .init(number: number)
                let (states, duration) = replayPlan(from: StateAtStep(step: fromStep, hash: fromHash),
                                                    to: StateAtStep(step: toStep, hash: toHash), donors: donors, for: volunteer)
                schedule(.replayedInBackground(volunteer: volunteer, incarnation: incarnation, number: number, states: states),
                         at: cursor + duration)
            case .awaitBackgroundReplay:
                if volunteers[volunteer].backgroundReplay?.fetched != nil {
                    deliverBackgroundReplay(to: volunteer)
                } else {
                    volunteers[volunteer].backgroundReplay?.isAwaited = true
                }
            case .cancelBackgroundReplay:
                volunteers[volunteer].backgroundReplay = nil
            case .awaitRound:
                awaitRound(by: volunteer)
            case .applyUpdate:
                var state = volunteers[volunteer]
                let hash = state.roundResultHash ?? StateHashes.mixed(state.stateHash, UInt64(volunteer), UInt64(state.stateStep))
                state.reach(StateAtStep(step: state.stateStep + 1, hash: hash), continuing: true, keep: updatesKept(by: volunteer))
                state.roundResultHash = nil
                volunteers[volunteer] = state
                bookUpdate(by: volunteer)
            case .discardGradients:
                forgetTraining(of: volunteer)
            case .publishRoundReport(let report):
                board.writeRoundReport()
                cursor = cursor + lookup()
                switch report.members {
                case 0: metrics.failedAttempts += 1
                case 1: metrics.aloneSteps += 1
                default: break
                }
            case .note(let note):
                switch note {
                case .hashMismatch, .onAnotherBranch: metrics.hashMismatches += 1
                default: break
                }
                if case .joiningLate(_, let toStep) = note {
                    // It holds the run's state once its replay lands, and averages at `toStep`.
                    metrics.lateJoins += 1
                    volunteers[volunteer].firstLoadedStep = volunteers[volunteer].firstLoadedStep ?? toStep
                }
            case .leave(let goodbye):
                board.write(progress: goodbye, by: volunteers[volunteer].id)
                leave(volunteer)
            }
        }
    }

    /// One lookup by a volunteer with `profile`: its round trips, and each hop's request
    /// processing (`dhtRequestSeconds`).
    private func lookupTime(for profile: VolunteerProfile) -> Duration {
        board.lookupTime(latency: profile.latency, typical: typicalLatency)
            + .seconds(board.costs.roundTrips * settings.dhtRequestSeconds)
    }

    private func leave(_ volunteer: Int) {
        volunteers[volunteer].isOnline = false
        volunteers[volunteer].leftAt = time
        // Churn keeps the population: somebody else comes online within a minute.
        schedule(.arrive, at: time + .seconds(Double.random(in: 0...60, using: &random)))
    }

    /// The state download: the donors that still hold the state share their uploads, up to the
    /// joiner's download.
    private func download(step: Int, hash: [UInt8], donors: [VolunteerSession.StateDonor], for volunteer: Int, from start: MonotonicInstant) {
        let incarnation = volunteers[volunteer].incarnation
        let holders = donors.compactMap { index[$0.peer] }.filter {
            volunteers[$0].isOnline && volunteers[$0].stateStep == step && volunteers[$0].stateHash == hash
        }
        guard !holders.isEmpty else {
            // The planner's request timeout, then the download fails.
            schedule(.downloaded(volunteer: volunteer, incarnation: incarnation, step: step, hash: nil), at: start + .seconds(10))
            return
        }
        let upload = holders.map { volunteers[$0].profile.uploadBitsPerSecond }.reduce(0, +)
        let rate = min(upload, volunteers[volunteer].profile.downloadBitsPerSecond)
        let transfer = Duration.seconds(Double(settings.stateBytes) * 8 / rate) + volunteers[volunteer].profile.latency * 4
        schedule(.downloaded(volunteer: volunteer, incarnation: incarnation, step: step, hash: hash), at: start + transfer)
    }

    /// The replay a catch-up waits for (`replayPlan`).
    private func replay(from: StateAtStep, to: StateAtStep, donors: [VolunteerSession.StateDonor], for volunteer: Int,
                        from start: MonotonicInstant) {
        let (states, duration) = replayPlan(from: from, to: to, donors: donors, for: volunteer)
        schedule(.replayed(volunteer: volunteer, incarnation: volunteers[volunteer].incarnation, states: states), at: start + duration)
    }

    /// What a replay from `from` to `to` gets and how long it takes: the first donor (in the
    /// order given, as the shell asks them) whose kept updates lead there sends the chain; each
    /// update's float32 gradient comes from it and the next donors that hold the chain too, up
    /// to `UpdateFetcher`'s four, over their summed uploads up to the joiner's download. Donors
    /// asked for the chain before the first holder cost a round trip each, as does the chain's
    /// request. Nil states when no donor holds the chain.
    private func replayPlan(from: StateAtStep, to: StateAtStep, donors: [VolunteerSession.StateDonor],
                            for volunteer: Int) -> (states: [StateAtStep]?, duration: Duration) {
        let joiner = volunteers[volunteer].profile
        let asked = donors.prefix(3).compactMap { index[$0.peer] }
        guard let found = asked.firstIndex(where: { volunteers[$0].isOnline && volunteers[$0].holdsChain(from: from, to: to) }) else {
            return (nil, joiner.latency * (2 * max(1, asked.count)))
        }
        let donor = volunteers[asked[found]]
        let states = donor.chainStates.filter { $0.step >= from.step && $0.step <= to.step }
        let others = donors.compactMap { index[$0.peer] }.filter { $0 != asked[found] }
        let sharing = ([asked[found]] + others).prefix(Self.replayDonorsShared).filter {
            volunteers[$0].isOnline && volunteers[$0].holdsChain(from: from, to: to)
        }
        let upload = sharing.map { volunteers[$0].profile.uploadBitsPerSecond }.reduce(0, +)
        let rate = min(upload, joiner.downloadBitsPerSecond)
        let transfer = Duration.seconds(Double(to.step - from.step) * Double(settings.updateBytes) * 8 / rate)
        return (states, joiner.latency * (2 * (found + 1)) + transfer + joiner.latency * 2)
    }

    /// The late join's replay is fetched: applied as the shell applies it, keeping the
    /// training (the volunteer's state moves on, its training stays), and told to the session.
    func deliverBackgroundReplay(to volunteer: Int) {
        guard let replay = volunteers[volunteer].backgroundReplay, let fetched = replay.fetched else {
            preconditionFailure("volunteer \(volunteer) has no fetched background replay to deliver")
        }
        volunteers[volunteer].backgroundReplay = nil
        guard let states = fetched, let reached = states.last else {
            deliver(.backgroundReplayFinished(.failed(reason: "no donor holds the update")), to: volunteer)
            return
        }
        for state in states.dropFirst() { volunteers[volunteer].reach(state, continuing: true, keep: updatesKept(by: volunteer)) }
        metrics.backgroundReplays += 1
        metrics.replayBytes += Double((states.count - 1) * settings.updateBytes)
        deliver(.backgroundReplayFinished(.landed(step: reached.step)), to: volunteer)
    }

    private func report(wallSeconds: Double) -> SimulationReport {
        let onlineSeconds = volunteers.map { $0.onlineTime(until: time) }.reduce(.zero, +) / .seconds(1)
        let attempts = metrics.groupRounds + metrics.aloneSteps + metrics.failedAttempts
        let hottest = board.hottestKey
        let dhtBytes = board.totalBytesServed
        let joiners = volunteers.filter { $0.firstLoadedStep != nil }
        let waits = joiners.compactMap(\.stepsFromLoadToRound)
        return SimulationReport(
            volunteers: settings.volunteers, shards: settings.effectiveShards.count, simulatedSeconds: settings.simulatedSeconds, wallSeconds: wallSeconds, sessions: volunteers.count,
            rounds: metrics.groupRounds, aloneSteps: metrics.aloneSteps, steps: highestStep,
            utilisation: onlineSeconds > 0 ? metrics.usefulComputeSeconds / onlineSeconds : 0,
            matchmakingSuccessRate: attempts > 0 ? Double(metrics.groupRounds + metrics.aloneSteps) / Double(attempts) : 0,
            meanGroupSize: metrics.groupRounds > 0 ? Double(metrics.groupMembers) / Double(metrics.groupRounds) : 0,
            meanRoundSeconds: metrics.groupRounds > 0 ? metrics.roundTime / .seconds(1) / Double(metrics.groupRounds) : 0,
            targetBatch: settings.samplesPerRound,
            meanRoundSamples: metrics.groupRounds > 0 ? metrics.groupSamples / Double(metrics.groupRounds) : 0,
            stateDownloads: metrics.stateDownloads, stateReplays: metrics.stateReplays,
            lateJoins: metrics.lateJoins, backgroundReplays: metrics.backgroundReplays, joiners: joiners.count,
            joinersAveraged: waits.count, meanRoundsToAverage: waits.isEmpty ? 0 : Double(waits.reduce(0, +)) / Double(waits.count),
            maxRoundsToAverage: waits.max() ?? 0, hashMismatches: metrics.hashMismatches,
            dhtMessagesPerPeerPerSecond: onlineSeconds > 0 ? 2 * board.requests / onlineSeconds : 0,
            bytesPerSample: metrics.usefulSamples > 0 ? (metrics.averagingBytes + metrics.downloadBytes + metrics.replayBytes + dhtBytes) / metrics.usefulSamples : 0,
            hottestKey: hottest?.kind.rawValue ?? "", hottestKeyBytesPerSecond: (hottest?.bytes ?? 0) / max(settings.simulatedSeconds, 1),
            usefulSamplesPerSecond: metrics.usefulSamples / max(settings.simulatedSeconds, 1), events: metrics.events,
            trainWhileAveraging: settings.roundsOverlapTraining,
            // At most 1: each chunk's end lands on the clock's microsecond tick below it.
            trainingShareWhileAveraging: metrics.timeInRounds > .zero ? min(1, metrics.trainingSecondsInRounds / (metrics.timeInRounds / .seconds(1))) : 0)
    }
}
