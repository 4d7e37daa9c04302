import Admission
import Collaboration
import DHT
import Foundation
import Logging
import NIOCore
import NIOPosix
import Node
import Peer
import Trainer
import Wire

/// What a coordinator needs to run; documented defaults.
public struct CoordinatorSettings: Sendable {
    public var config: RunConfig
    public var listen = Endpoint(host: "0.0.0.0", port: 7000)
    public var announceHost: String?
    /// History journal and checkpoints live here.
    public var stateDirectory: URL
    public var identityPath: String?
    /// Back up the model every this many steps.
    public var checkpointEvery = 50
    /// Checkpoint folders to keep.
    public var keep = 5
    /// Admit any peer. Otherwise (the default) only peers presenting an access token signed by
    /// the coordinator's key take part, and `revocations` in the state folder revokes keys.
    public var isOpen = false
    /// Newest rounds kept in memory and shown by `/api/status`; older ones are read from the
    /// journal on demand (`/api/rounds`).
    public var roundWindow = RoundHistory.defaultWindowSize

    public init(config: RunConfig, stateDirectory: URL) {
        self.config = config
        self.stateDirectory = stateDirectory
    }
}

/// The run's first DHT node: publishes the signed run config, records every averaging round
/// from the peers' reports in a journal, counts state-hash disagreements, and backs up the
/// model. It does not train and is not in the data path: peers go on while it is down, and
/// after a restart it reads the rounds it missed from the DHT.
public final class RunCoordinator: @unchecked Sendable {
    public let settings: CoordinatorSettings
    let logger: Logger
    let stop: StopSignal
    private let lock = NSLock()
    private var snapshot: CoordinatorStatus
    private var history: RoundHistory
    /// Set once `run()` has read it back; `rounds(since:limit:)` pages from it.
    private var journal: RoundJournal?
    private let started = Date()
    private var keeper: CheckpointKeeper
    private var nextStep = 0
    private var missingSince: Date?
    private var mismatchedSteps = Set<Int>()
    private var lastConfigPublish = Date.distantPast
    /// After a failed backup, wait before asking the peers again.
    private var nextBackupAttempt = Date.distantPast
    private var knownPeerLines: [String] = []
    /// The newest checkpoint's state, served to peers that download it.
    private let checkpointServer = StateServer(keep: 1)
    /// What the coordinator announces of that checkpoint, and when it last did.
    private var checkpointAnnouncement: StateAnnouncement?
    private var lastCheckpointAnnounce = Date.distantPast

    public init(settings: CoordinatorSettings, logger: Logger, stop: StopSignal) {
        self.settings = settings
        self.logger = logger
        self.stop = stop
        keeper = CheckpointKeeper(directory: settings.stateDirectory.appendingPathComponent("checkpoints"), keep: settings.keep)
        history = RoundHistory(windowSize: settings.roundWindow)
        snapshot = CoordinatorStatus(runName: settings.config.name, joinAddress: "", step: 0,
                                     targetBatchSize: settings.config.targetBatchSize, samplesAccumulated: 0, peers: [],
                                     history: history, lastCheckpointStep: nil, lastCheckpointPath: nil, hashMismatches: 0,
                                     uptimeSeconds: 0)
    }

    /// A consistent copy of what the coordinator knows, for the dashboard and the API.
    public func status() -> CoordinatorStatus {
        lock.lock()
        defer { lock.unlock() }
        var copy = snapshot
        copy.show(history)
        copy.uptimeSeconds = Date().timeIntervalSince(started)
        return copy
    }

    /// Up to `limit` journaled rounds from step `since` on, read from the journal on disk.
    public func rounds(since: Int, limit: Int) throws -> RoundPage {
        guard let journal = lock.withLock({ journal }) else {
            throw RoundJournal.Error(description: "the round journal is not open yet")
        }
        return try journal.page(since: since, limit: limit)
    }

    private func update(_ change: (inout CoordinatorStatus) -> Void) {
        lock.lock()
        change(&snapshot)
        lock.unlock()
    }

    /// Runs until `stop` is set; `onListening` receives the DHT address peers join through and
    /// the coordinator's public key (hex), which volunteers may pin.
    public func run(onListening: @Sendable (Endpoint, String) -> Void) async throws {
        try FileManager.default.createDirectory(at: keeper.directory, withIntermediateDirectories: true)
        var replayed = RoundHistory(windowSize: settings.roundWindow)
        let journal = try RoundJournal(url: settings.stateDirectory.appendingPathComponent("rounds.jsonl")) { replayed.record($0) }
        if journal.skipped > 0 { logger.warning("skipped \(journal.skipped) unreadable line(s) of the round journal") }
        nextStep = (journal.lastStep ?? -1) + 1
        let last = keeper.existing().last
        lock.withLock {
            self.journal = journal
            history = replayed
            snapshot.lastCheckpointStep = last?.step
            snapshot.lastCheckpointPath = last?.url.path
        }
        let identity = try IdentityFile.loadOrCreate(at: Self.identityPath(in: settings.stateDirectory, override: settings.identityPath))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var dhtSettings = DHTService.Settings()
        dhtSettings.transport.listen = settings.listen
        dhtSettings.transport.advertisedHost = settings.announceHost
        if !settings.isOpen {
            // The coordinator's key is the run key: it signs the tokens and needs none itself.
            let rules = AdmissionRules(runName: settings.config.name, runPublicKey: identity.publicKey)
            dhtSettings.transport.admission = .admittedOnly(rules, presenting: nil)
        }
        let eventLoop = group.next()
        let server = checkpointServer
        let dht = try await DHTService.start(identity: identity, settings: dhtSettings, eventLoop: eventLoop, logger: logger) { request in
            eventLoop.makeCompletedFuture { try server.answer(request.frame) }
        }
        let endpoint = dht.endpoint
        if let last {
            serveCheckpoint(at: last.url, endpoint: endpoint)
        }
        update { $0.joinAddress = endpoint.description }
        await rejoin(dht: dht)
        logger.info("coordinator listening", metadata: ["run": "\(settings.config.name)", "join": "\(endpoint)",
                                                        "coordinator.key": "\(identity.publicKey.hexString)",
                                                        "peer.id": "\(identity.peerID)"])
        onListening(endpoint, identity.publicKey.hexString)
        let signed = try SignedRunConfig(config: settings.config, signingKey: identity.privateKey)
        var revocations = settings.isOpen ? nil : RevocationPublisher(file: Self.revocationFile(in: settings.stateDirectory),
                                                                      runName: settings.config.name)
        while !stop.isStopped {
            await revocations?.poll(dht: dht, logger: logger)
            if Date().timeIntervalSince(lastConfigPublish) > 300 {
                _ = try? await dht.put(key: RunKeys.runs, subkey: Array(settings.config.name.utf8), value: signed.encoded,
                                       expiry: Self.milliseconds() + 3_600_000)
                lastConfigPublish = Date()
            }
            await poll(dht: dht, journal: journal)
            await announceCheckpoint(dht: dht)
            try? await Task.sleep(for: .seconds(1))
        }
        await dht.shutdown()
        try? await group.shutdownGracefully()
    }

    static func milliseconds() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

    /// The signed revocation list `cohort token revoke` writes and the coordinator publishes.
    public static func revocationFile(in stateDirectory: URL) -> URL {
        stateDirectory.appendingPathComponent("revocations")
    }

    /// The coordinator's key file: `--identity`, or `identity` in the state folder.
    public static func identityPath(in stateDirectory: URL, override: String?) -> String {
        override ?? stateDirectory.appendingPathComponent("identity").path
    }
}

extension RunCoordinator {
    private func poll(dht: DHTService, journal: RoundJournal) async {
        let keys = RunKeys(runName: settings.config.name)
        let now = Self.milliseconds()
        var tracker = ProgressTracker(targetBatchSize: settings.config.targetBatchSize)
        tracker.staleAfterMilliseconds = 20_000
        let live = OwnedRecord.decoding((try? await dht.get(keys.progress)) ?? [], with: PeerProgress.init(decoding:))
            .filter { tracker.isLive($0.value, now: now) }
        let progress = live.map { record in
            let value = record.value
            return CoordinatorStatus.Peer(
                id: record.writer.shortHex, step: value.step, samplesAccumulated: value.samplesAccumulated,
                samplesPerSecond: value.samplesPerSecond, loss: value.loss, clientMode: value.clientMode,
                secondsSinceUpdate: Double(now.saturatingSubtract(value.timestampMilliseconds)) / 1000)
        }
        let (ballots, refused) = StateElection(stateBytes: TrainingRun.stateByteCount(for: settings.config.training.model))
            .ballots(from: (try? await dht.get(keys.state)) ?? [], now: now)
        for refusal in refused where refusal.isOffence {
            dht.transport.reportOffence(Offence(.falseClaim, refusal.reason), by: refusal.writer)
        }
        let banned = ((try? await dht.transport.bannedPeers().get()) ?? []).map(\.bytes.hexString).sorted()
        let voters = Set(live.map(\.writer))
        let announcements = ballots.filter { voters.contains($0.voter) }.map(\.announcement)
        rememberPeers(announcements.filter(\.servesState).map(\.endpoint))
        // The run's step as the peers see it (`ProgressTracker`): one peer's claim of a far step
        // must not make the journal wait for rounds nobody will report.
        let step = ProgressTracker.runStep(reachedBy: live.map(\.value.step))
        let hashesAtStep = Set(announcements.filter { $0.step == step && step > 0 }.map(\.stateHash))
        if hashesAtStep.count > 1 { mismatchedSteps.insert(step) }
        let rate = progress.map(\.samplesPerSecond).reduce(0, +)
        update {
            $0.peers = progress.sorted { $0.id < $1.id }
            $0.step = step
            $0.samplesAccumulated = progress.filter { $0.step == step }.map(\.samplesAccumulated).reduce(0, +)
            $0.hashMismatches = mismatchedSteps.count
            $0.bannedPeers = banned
        }
        await recordRounds(upTo: step, keys: keys, dht: dht, journal: journal, samplesPerSecond: rate)
        await backUp(step: step, elected: StateElection.winner(of: ballots, voters: voters), dht: dht)
    }

    /// Journals every finished round from `nextStep` on, from the members' reports.
    private func recordRounds(upTo step: Int, keys: RunKeys, dht: DHTService, journal: RoundJournal,
                              samplesPerSecond: Double) async {
        while nextStep < step && !stop.isStopped {
            let reports = ((try? await dht.get(keys.round(step: nextStep))) ?? []).filter(\.isUnderOwnersSubkey)
                .compactMap { try? RoundReport(decoding: $0.value) }
            let round: CoordinatorStatus.Round
            if reports.isEmpty {
                // A round nobody reported (it expired while the coordinator was away): wait a
                // little for late reports, then note the gap and move on.
                let since = missingSince ?? Date()
                missingSince = since
                guard Date().timeIntervalSince(since) > 10 else { return }
                round = CoordinatorStatus.Round(step: nextStep, members: 0, samples: 0, durationSeconds: 0, loss: .nan,
                                                samplesPerSecond: 0, bytesSent: 0, bytesReceived: 0, failedParts: 0,
                                                note: "no member's report was found", recordedAtMilliseconds: Self.milliseconds())
            } else {
                let losses = reports.map(\.loss).filter(\.isFinite)
                round = CoordinatorStatus.Round(
                    step: nextStep, members: reports.map(\.members).max() ?? 0, samples: reports.map(\.samples).max() ?? 0,
                    durationSeconds: reports.map(\.durationSeconds).max() ?? 0,
                    loss: losses.isEmpty ? .nan : losses.reduce(0, +) / Double(losses.count), samplesPerSecond: samplesPerSecond,
                    bytesSent: reports.map(\.bytesSent).reduce(0, +), bytesReceived: reports.map(\.bytesReceived).reduce(0, +),
                    failedParts: reports.map(\.failedParts).max() ?? 0, note: reports.map(\.note).first { !$0.isEmpty } ?? "",
                    recordedAtMilliseconds: Self.milliseconds())
            }
            missingSince = nil
            do {
                try journal.append(round)
            } catch {
                logger.error("\(error)")
                return
            }
            lock.withLock { history.record(round) }
            nextStep += 1
        }
    }

    /// Every `checkpointEvery` steps, downloads the state the live peers elect
    /// (`StateElection`) and writes a checkpoint.
    private func backUp(step: Int, elected: StateElection.Winner?, dht: DHTService) async {
        let last = status().lastCheckpointStep ?? 0
        guard step > 0, step >= last + settings.checkpointEvery, Date() >= nextBackupAttempt, let source = elected,
              source.step > last, !source.donors.isEmpty else { return }
        do {
            let bytes = try await StateFetcher(transport: dht.transport, logger: logger)
                .download(step: source.step, hash: source.hash, byteCount: source.stateBytes, donors: source.donors)
            let folder = try keeper.save(config: settings.config.training.model, state: bytes, step: source.step)
            update {
                $0.lastCheckpointStep = source.step
                $0.lastCheckpointPath = folder.path
            }
            serve(StateSnapshot(step: source.step, bytes: bytes), endpoint: dht.endpoint)
            logger.info("checkpoint", metadata: ["step": "\(source.step)", "path": "\(folder.path)"])
        } catch {
            nextBackupAttempt = Date().addingTimeInterval(15)
            logger.warning("checkpoint failed, retrying in 15 s: \(error)")
        }
    }
}

extension RunCoordinator {
    /// Serves the checkpoint in `folder`, unless it does not hold a state of this run's model
    /// (then peers are better off starting afresh: logged).
    private func serveCheckpoint(at folder: URL, endpoint: Endpoint) {
        do {
            let (step, state) = try keeper.loadState(config: settings.config.training.model, from: folder)
            serve(StateSnapshot(step: step, bytes: state), endpoint: endpoint)
        } catch {
            logger.warning("not serving the newest checkpoint: \(error)")
        }
    }

    private func serve(_ snapshot: StateSnapshot, endpoint: Endpoint) {
        checkpointServer.publish(snapshot)
        checkpointAnnouncement = StateAnnouncement(step: snapshot.step, stateHash: snapshot.hash, stateBytes: snapshot.bytes.count,
                                                   host: endpoint.host, port: endpoint.port, timestampMilliseconds: 0)
        lastCheckpointAnnounce = .distantPast
        logger.info("serving checkpoint", metadata: ["step": "\(snapshot.step)"])
    }

    /// Announces the served checkpoint when it changed, and every 5 minutes so that the
    /// record (kept 10 minutes) outlives any gap.
    private func announceCheckpoint(dht: DHTService) async {
        guard var announcement = checkpointAnnouncement, Date().timeIntervalSince(lastCheckpointAnnounce) > 300 else { return }
        let now = Self.milliseconds()
        announcement.timestampMilliseconds = now
        do {
            _ = try await dht.put(key: RunKeys(runName: settings.config.name).checkpoint, subkey: dht.peerID.bytes,
                                  value: announcement.encoded, expiry: now + 600_000)
            lastCheckpointAnnounce = Date()
        } catch {
            logger.warning("could not announce the checkpoint", metadata: ["error": "\(error)"])
        }
    }
}

extension RunCoordinator {
    private var peersFile: URL { settings.stateDirectory.appendingPathComponent("peers.txt") }

    /// After a restart, joins the peers that were training when the coordinator went down, so
    /// it can read the rounds it missed; a coordinator that starts a run finds nobody to join.
    private func rejoin(dht: DHTService) async {
        let text = (try? String(contentsOf: peersFile, encoding: .utf8)) ?? ""
        let endpoints = text.split(separator: "\n").compactMap { try? Endpoint(parsing: String($0)) }
        guard !endpoints.isEmpty else { return }
        let contacts = (try? await dht.bootstrap(endpoints)) ?? 0
        logger.info("rejoined the run's peers", metadata: ["known": "\(endpoints.count)", "contacts": "\(contacts)"])
    }

    /// Keeps the addresses of serving peers on disk for `rejoin`.
    private func rememberPeers(_ endpoints: [Endpoint]) {
        let lines = Set(endpoints.map(\.description)).sorted()
        guard !lines.isEmpty, lines != knownPeerLines else { return }
        knownPeerLines = lines
        try? AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: peersFile)
    }
}

extension UInt64 {
    func saturatingSubtract(_ other: UInt64) -> UInt64 { self > other ? self - other : 0 }
}

extension Array where Element == UInt8 {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}

extension DHTID {
    /// "9f3c…": enough to tell peers apart on a dashboard.
    var shortHex: String {
        bytes.prefix(2).map { String(format: "%02x", $0) }.joined() + "…"
    }
}
