import CohortBase
import StateSync
import Admission
import Averaging
import Collaboration
import DHT
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Node
import Trainer
import Wire

/// One peer's membership in a run: the shell that carries out what its `VolunteerSession`
/// decides, on the real network, trainer and clocks.
final class PeerSession {
    let settings: VolunteerSettings
    let logger: Logger
    let stop: StopSignal
    let identity: PeerIdentity
    let network: RunNetwork
    let config: RunConfig
    let run: TrainingRun
    let keys: RunKeys
    /// This peer's progress and state keys: those of its shard (`RunShards`).
    let progressKey: RecordKey, stateKey: RecordKey
    /// The shard totals' key, in a run of several shards.
    let totalsKey: RecordKey?
    private(set) var session: VolunteerSession
    /// The answer of the background directive in flight, once it has come.
    private let backgroundAnswer = NIOLockedValueBox<VolunteerSession.Event?>(nil)
    /// The background read in flight, if any, for `awaitProgressRead` to wait on.
    private var backgroundRead: Task<Void, Never>?
    /// The answer of the matchmaking read in flight (`readMatchmakingWhileTraining`), once in.
    private let matchmakingAnswer = NIOLockedValueBox<VolunteerSession.Event?>(nil)
    /// The round averaging while the trainer goes on (`allReduceInBackground`), and its outcome
    /// once in.
    private var backgroundRound: Task<Void, Never>?
    private let roundOutcome = NIOLockedValueBox<Result<AllReduceResult, any Error>?>(nil)
    /// A late join's replay (`replayUpdatesInBackground`), until its answer is taken.
    var backgroundReplay: BackgroundReplay?
    /// The fetch of the replay cancelled last, which may still be writing the replay buffer:
    /// the next replay's fetch waits for it.
    var cancelledReplayFetch: Task<Void, Never>?
    /// The progress record waiting to be stored while a store is in flight. Only the newest
    /// one matters, so a slow DHT costs one store at a time, not a growing queue of them.
    private let waitingProgress = NIOLockedValueBox<(progress: PeerProgress, lifetime: Duration)?>(nil)
    /// The store in flight, if any; the goodbye waits for it, or it could land after the goodbye.
    private var lastPublication: Task<Void, Never>?
    /// The state announced last: where the next update starts from, and where a failed replay
    /// goes back to. Its bytes are the ones the state server holds.
    var announcedSnapshot: StateSnapshot?
    /// The update applied since `announcedSnapshot`, until its state is announced.
    var pendingUpdate: PendingUpdate?
    /// The state a replay reached, already frozen and hashed, for the announcement that follows.
    var replayedSnapshot: StateSnapshot?
    /// What compression took from this peer's contributions, when the run carries it over.
    let errorFeedback: ErrorFeedback?
    /// Time and traffic since the start, published with every progress record.
    var activity = PeerActivity()
    private let startedAt = ContinuousClock.now

    init(settings: VolunteerSettings, logger: Logger, stop: StopSignal, identity: PeerIdentity, network: RunNetwork,
         config: RunConfig, coordinator: PeerID, run: TrainingRun) {
        self.settings = settings
        self.logger = logger
        self.stop = stop
        self.identity = identity
        self.network = network
        self.config = config
        self.run = run
        keys = RunKeys(runName: config.name)
        let shard = config.shards.shard(of: identity.peerID)
        progressKey = keys.progress(shard: shard, of: config.shards)
        stateKey = keys.state(shard: shard, of: config.shards)
        totalsKey = config.shards.isSharded ? keys.shardTotals : nil
        errorFeedback = config.errorFeedback && config.compression != .none
            ? ErrorFeedback(elementCount: run.averagingVector.count) : nil
        let endpoint = network.dht.endpoint
        var sessionSettings = VolunteerSession.Settings(
            me: identity.peerID, clientMode: settings.clientMode, address: "\(endpoint.host):\(endpoint.port)",
            coordinator: coordinator, elementCount: run.averagingVector.count, stateBytes: run.stateByteCount, config: config)
        sessionSettings.fixedBandwidth = settings.fixedBandwidth
        sessionSettings.stopAfterStep = settings.stopAfterStep
        sessionSettings.replayableSteps = settings.replayUpdates
        sessionSettings.trainsWhileAveraging = settings.trainsWhileAveraging && config.localSGD.localSteps > 1
        sessionSettings.joinsLate = settings.joinsLate
        sessionSettings.trainsWhileMatchmaking = settings.trainsWhileMatchmaking
        session = VolunteerSession(settings: sessionSettings)
    }

    static func now() -> VolunteerSession.Now { SystemClock().now() }

    /// Catches up with the run, trains and averages until stopped, then says goodbye.
    func run() async throws {
        var directives = session.start(at: Self.now())
        while true {
            if stop.isStopped { session.requestStop() }
            var answer: VolunteerSession.Event?
            for directive in directives {
                if case .leave(let goodbye) = directive {
                    cancelBackgroundReplay()
                    // Tells the run this peer is gone, so others stop counting its samples at
                    // once; after the publications in flight, or one could land after it.
                    await lastPublication?.value
                    await network.publish(progressKey, goodbye.encoded, lifetime: RunTimings.goodbyeLifetime, logger: logger)
                    return
                }
                // One answer per `train`, each from its own slot, so answers that come in together
                // are all delivered; the replay's first, since it must land before the round's
                // result is applied.
                if case .train = directive, backgroundReplay?.isFetched == true {
                    answer = landBackgroundReplay()
                    break
                }
                if case .train = directive, roundOutcome.withLockedValue({ $0 != nil }) {
                    answer = try roundFinishedInBackground()
                    break
                }
                if case .train = directive, let finished = backgroundAnswer.take() {
                    answer = finished
                    break
                }
                if case .train = directive, let read = matchmakingAnswer.take() {
                    answer = read
                    break
                }
                answer = try await execute(directive)
            }
            guard let answer else { preconditionFailure("the session handed out no directive to answer: \(directives)") }
            directives = session.handle(answer, at: Self.now())
            trace(answer, directives)
        }
    }

    /// At `--log-level trace`: what the session heard and what it asked for, micro-batches aside.
    private func trace(_ answer: VolunteerSession.Event, _ directives: [VolunteerSession.Directive]) {
        guard logger.logLevel <= .trace else { return }
        if case .trained = answer {} else { logger.trace("session event", metadata: ["event": "\(answer)"]) }
        let shown = directives.filter { if case .train = $0 { false } else { true } }
        if !shown.isEmpty { logger.trace("session directives", metadata: ["directives": "\(shown)"]) }
    }

    /// Carries out one directive; the event that answers it, for those that await one.
    private func execute(_ directive: VolunteerSession.Directive) async throws -> VolunteerSession.Event? {
        switch directive {
        case .train:
            let started = Date()
            let loss = run.accumulateMicroBatch()
            let seconds = Date().timeIntervalSince(started)
            activity.trainingSeconds += seconds
            activity.samplesTrained += UInt64(run.settings.effectiveMicroBatchSize)
            // A micro-batch holds its thread of the cooperative pool without a suspension, and
            // back to back they would hold it for good: on one core (or with the other thread
            // busy) the background reads and stores waited until the batch looked complete by a
            // projection whose records had gone stale, 20 s later, and the run stepped without
            // this peer meanwhile.
            await Task.yield()
            return .trained(samples: run.settings.effectiveMicroBatchSize, seconds: seconds, loss: loss)
        case .checkStillAdmitted:
            try await checkStillAdmitted()
        case .rejoinIfIsolated:
            return .connectivityChecked(await rejoinIfIsolated())
        case .publishProgress(var progress, let lifetime):
            activity.wallSeconds = Double((ContinuousClock.now - startedAt) / .milliseconds(1)) / 1000
            progress.activity = activity
            let idle = waitingProgress.withLockedValue { waiting in
                defer { waiting = (progress, lifetime) }
                return waiting == nil
            }
            guard idle else { break }
            let network = self.network, key = progressKey, logger = self.logger, waiting = waitingProgress
            lastPublication = Task {
                // Stores the newest waiting record until none is left; each store may outlast
                // several progress intervals on a slow link.
                while let next = waiting.withLockedValue({ $0 }) {
                    await network.publish(key, next.progress.encoded, lifetime: next.lifetime, logger: logger)
                    let done = waiting.withLockedValue { current in
                        guard current?.progress == next.progress else { return false }
                        current = nil
                        return true
                    }
                    if done { return }
                }
            }
        case .publishShardTotal(let total, let lifetime):
            let network = self.network, key = keys.shardTotals, logger = self.logger
            Task { await network.publish(key, total.encoded, lifetime: lifetime, logger: logger) }
        case .readProgressWhileTraining:
            let network = self.network, progressKey = self.progressKey, totalsKey = self.totalsKey, box = backgroundAnswer
            backgroundRead = Task {
                let event = await PeerSession.readProgress(network: network, progressKey: progressKey, totalsKey: totalsKey)
                box.withLockedValue { $0 = event }
            }
        case .awaitProgressRead:
            await backgroundRead?.value
            backgroundRead = nil
            return backgroundAnswer.take()
        case .readProgress:
            return await Self.readProgress(network: network, progressKey: progressKey, totalsKey: totalsKey)
        case .readStateAnnouncements:
            return .stateAnnouncementsRead(OwnedRecord.decoding(await network.records(stateKey), with: StateAnnouncement.init(decoding:)))
        case .readDonors(let shard):
            let key = keys.state(shard: shard, of: config.shards)
            return .stateAnnouncementsRead(OwnedRecord.decoding(await network.records(key), with: StateAnnouncement.init(decoding:)))
        case .readCheckpoint:
            return .checkpointRead(OwnedRecord.decoding(await network.records(keys.checkpoint), with: StateAnnouncement.init(decoding:)))
        case .downloadState(let step, let hash, let donors):
            return await download(step: step, hash: hash, donors: donors)
        case .replayUpdates(let fromStep, let fromHash, let toStep, let toHash, let donors):
            return await replay(fromStep: fromStep, fromHash: fromHash, toStep: toStep, toHash: toHash, donors: donors)
        case .announceState:
            return await announceState()
        case .averageAccumulatedGradients:
            run.averageAccumulatedGradients()
        case .publishDeclaration(let declaration, let key):
            await network.publish(keys.declarations(key), declaration.encoded(), lifetime: RunTimings.matchmakingLifetime, logger: logger)
        case .withdrawDeclaration(let declaration, let key):
            let network = self.network, key = keys.declarations(key), logger = self.logger
            Task { await network.publish(key, declaration.encoded(), lifetime: RunTimings.matchmakingLifetime, logger: logger) }
        case .publishPlan(let plan, let key):
            await network.publish(keys.plan(key), plan.encoded(), lifetime: RunTimings.matchmakingLifetime, logger: logger)
        case .readMatchmaking(let key):
            return await readMatchmaking(key)
        case .readMatchmakingWhileTraining(let key):
            startMatchmakingRead(key)
        case .sleep(let until):
            let wait = until - SystemClock().now().monotonic
            if wait > .zero { try? await Task.sleep(for: wait) }
            return .woke
        case .allReduce(let plan):
            return .roundFinished(try await allReduce(plan: plan))
        case .allReduceInBackground(let plan):
            let round = startAllReduce(plan: plan), box = roundOutcome
            backgroundRound = Task {
                let outcome: Result<AllReduceResult, any Error>
                do { outcome = .success(try await round.get()) } catch { outcome = .failure(error) }
                box.withLockedValue { $0 = outcome }
            }
        case .replayUpdatesInBackground(let fromStep, let fromHash, let toStep, let toHash, let donors):
            startBackgroundReplay(UpdatesRequest(fromStep: fromStep, fromHash: fromHash, toStep: toStep, toHash: toHash), donors: donors)
        case .awaitBackgroundReplay:
            guard let replay = backgroundReplay else { preconditionFailure("no background replay to wait for") }
            await replay.fetch.value
            return landBackgroundReplay()
        case .cancelBackgroundReplay:
            cancelBackgroundReplay()
        case .awaitRound:
            await backgroundRound?.value
            return try roundFinishedInBackground()

        case .applyUpdate(let skipped, let samples):
            applyUpdate(skipping: skipped, samples: samples)
        case .discardGradients:
            run.discardAccumulatedGradients()
        case .publishRoundReport(let report):
            await network.publish(keys.round(step: report.step), report.encoded, lifetime: RunTimings.roundReportLifetime, logger: logger)
        case .reportOffence(let peer, let offence):
            network.dht.transport.reportOffence(offence, by: peer)
        case .note(let note):
            log(note)
        case .leave:
            preconditionFailure("the run loop ends the session on leave")
        }
        return nil
    }

    /// This peer's shard's progress records and, in a run of several shards, the shard totals,
    /// read side by side.
    private static func readProgress(network: RunNetwork, progressKey: RecordKey, totalsKey: RecordKey?) async -> VolunteerSession.Event {
        guard let totalsKey else {
            return .progressRead(OwnedRecord.decoding(await network.records(progressKey), with: PeerProgress.init(decoding:)))
        }
        let (records, totals) = await network.records(progressKey, totalsKey)
        return .progressRead(OwnedRecord.decoding(records, with: PeerProgress.init(decoding:)),
                             totals: OwnedRecord.decoding(totals, with: ShardTotal.init(decoding:)))
    }

    /// Reads the step's plans and declarations in the background; the answer waits in
    /// `matchmakingAnswer` for the next `train`.
    private func startMatchmakingRead(_ key: MatchmakingKey) {
        let network = self.network, slot = matchmakingAnswer
        let planKey = keys.plan(key), declarationKey = keys.declarations(key)
        Task {
            let found = await network.records(planKey, declarationKey)
            let event = MatchmakingRecords.event(plans: found.0, declarations: found.1)
            slot.withLockedValue { $0 = event }
        }
    }

    /// The step's plans and declarations, read side by side: each read is a lookup's round trips.
    private func readMatchmaking(_ key: MatchmakingKey) async -> VolunteerSession.Event {
        let found = await network.records(keys.plan(key), keys.declarations(key))
        return MatchmakingRecords.event(plans: found.0, declarations: found.1)
    }

    /// The background round's outcome, taken: its `roundFinished`.
    private func roundFinishedInBackground() throws -> VolunteerSession.Event {
        backgroundRound = nil
        guard let outcome = roundOutcome.take() else { preconditionFailure("no background round has finished") }
        return .roundFinished(try finishAllReduce(outcome))
    }

    /// When every contact is gone (the network was lost), joins again through the `--join`
    /// addresses.
    private func rejoinIfIsolated() async -> VolunteerSession.Connectivity {
        guard (try? await network.dht.routingTableCount()) == 0 else { return .connected }
        if let contacts = try? await network.dht.bootstrap(settings.join), contacts > 0 { return .rejoined(contacts: contacts) }
        return .isolated
    }

    /// In an admitted-only run, ends the session once this peer's token has expired or the
    /// run revoked its key: every other peer refuses it from then on.
    private func checkStillAdmitted() async throws {
        guard let token = settings.accessToken else { return }
        if Self.now().wall >= token.claims.expiresAt {
            throw PeerError("this peer's access token (\(token.claims.name)) expired; ask the run's operator for a new one")
        }
        if let rules = try? await network.dht.transport.admissionRules().get(), rules.revokedKeys.contains(identity.publicKey) {
            throw PeerError("the run revoked this peer's key (revocation list \(rules.revocations?.contents.sequence ?? 0))")
        }
        // Any peer can claim this one is revoked: only the join addresses' word (the
        // coordinator's, in an admitted run) ends the session, besides the signed list above.
        if let refusers = try? await network.dht.transport.addressesRefusingAsRevoked().get(),
           let address = settings.join.first(where: refusers.contains) {
            throw PeerError("the run's coordinator at \(address) refuses this peer: its key is revoked")
        }
    }

    /// Loads the state `hash` of `step` from `donors`.
    private func download(step: Int, hash: [UInt8], donors: [VolunteerSession.StateDonor]) async -> VolunteerSession.Event {
        let bytes: [UInt8]
        do {
            bytes = try await StateFetcher(transport: network.dht.transport, logger: logger)
                .download(step: step, hash: hash, byteCount: run.stateByteCount, donors: donors.map { ($0.peer, $0.endpoint) })
        } catch {
            return .stateDownloadFailed(reason: "\(error)")
        }
        bytes.withUnsafeBytes { run.loadState(from: $0, step: step) }
        // A state a replay reached earlier at this step is not the one loaded now.
        replayedSnapshot = nil
        return .stateLoaded(step: step)
    }

    /// Freezes the current state for others to download and announces its step and hash.
    private func announceState() async -> VolunteerSession.Event {
        let snapshot = replayedSnapshot.flatMap { $0.step == run.step ? $0 : nil } ?? StateSnapshot(of: run)
        replayedSnapshot = nil
        keepAnnounced(snapshot)
        try? await network.eventLoop.submit { [handlers = network.handlers] in handlers.value.publish(snapshot) }.get()
        let endpoint = network.dht.endpoint
        let announcement = StateAnnouncement(
            step: snapshot.step, stateHash: snapshot.hash, stateBytes: snapshot.bytes.count,
            host: settings.clientMode ? "" : endpoint.host, port: settings.clientMode ? 0 : endpoint.port,
            timestampMilliseconds: RunNetwork.milliseconds())
        await network.publish(stateKey, announcement.encoded, lifetime: RunTimings.stateAnnouncementLifetime, logger: logger)
        return .stateAnnounced(step: snapshot.step, hash: snapshot.hash)
    }
}

/// The step's plans and declarations that decode, as the session takes them.
private enum MatchmakingRecords {
    static func event(plans: [SignedRecord], declarations: [SignedRecord]) -> VolunteerSession.Event {
        .matchmakingRead(plans: OwnedRecord.decoding(plans) { try GroupPlan(decoding: $0[...]) },
                         declarations: OwnedRecord.decoding(declarations) { try Declaration(decoding: $0[...]) })
    }
}
