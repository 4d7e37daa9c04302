import CohortBase
import Admission
import Averaging
import Collaboration
import DHT
import Foundation
import Logging
import NIOCore
import NIOPosix
import Node
import StateSync
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
    private var knownPeerLines: [String] = []
    /// The newest checkpoint's state, served to peers that download it.
    private let checkpointServer = StateServer(keep: 1)

    public init(settings: CoordinatorSettings, logger: Logger, stop: StopSignal) {
        self.settings = settings
        self.logger = logger
        self.stop = stop
        keeper = CheckpointKeeper(directory: settings.stateDirectory.appendingPathComponent("checkpoints"), keep: settings.keep)
        history = RoundHistory(windowSize: settings.roundWindow)
        snapshot = CoordinatorStatus(runName: settings.config.name, joinAddress: "", step: 0,
                                     targetBatchSize: settings.config.samplesPerRound, samplesAccumulated: 0, peers: [],
                                     history: history, lastCheckpointStep: nil, lastCheckpointPath: nil, hashMismatches: 0,
                                     uptimeSeconds: 0)
        snapshot.parameters = TrainingRun.trainableParameterCount(for: settings.config.training.model, promptTuning: settings.config.promptTuning)
        snapshot.localSteps = settings.config.localSGD.localSteps
        snapshot.fragments = settings.config.localSGD.fragments
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
        let served = last.flatMap { serveCheckpoint(at: $0.url, endpoint: endpoint) }
        update { $0.joinAddress = endpoint.description }
        await rejoin(dht: dht)
        logger.info("coordinator listening", metadata: ["run": "\(settings.config.name)", "join": "\(endpoint)",
                                                        "coordinator.key": "\(identity.publicKey.hexString)",
                                                        "peer.id": "\(identity.peerID)"])
        onListening(endpoint, identity.publicKey.hexString)
        var shell = Shell(dht: dht, journal: journal,
                          config: try SignedRunConfig(config: settings.config, signingKey: identity.privateKey),
                          revocations: settings.isOpen ? nil : RevocationPublisher(file: Self.revocationFile(in: settings.stateDirectory),
                                                                                   runName: settings.config.name))
        var sessionSettings = CoordinatorSession.Settings(
            targetBatchSize: settings.config.samplesPerRound,
            stateBytes: TrainingRun.stateByteCount(for: settings.config.training.model, promptTuning: settings.config.promptTuning), checkpointEvery: settings.checkpointEvery)
        sessionSettings.pollInterval = .seconds(1)
        sessionSettings.contextLength = settings.config.training.model.contextLength
        var session = CoordinatorSession(settings: sessionSettings)
        var directives = session.start(.init(nextStep: (journal.lastStep ?? -1) + 1, lastCheckpointStep: last?.step,
                                             servedCheckpoint: served),
                                       at: Self.now())
        while !stop.isStopped {
            var answer: CoordinatorSession.Event?
            for directive in directives {
                answer = await execute(directive, in: &shell)
            }
            guard let answer else { preconditionFailure("the coordinator's session handed out no directive to answer: \(directives)") }
            directives = session.handle(answer, at: Self.now())
        }
        await dht.shutdown()
        try? await group.shutdownGracefully()
    }

    static func now() -> CoordinatorSession.Now { SystemClock().now() }

    static func monotonic() -> MonotonicInstant { now().monotonic }

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
    /// The records under every shard's key, read side by side, each only from a writer of that
    /// shard: one peer writing under every shard's key would otherwise count once per shard.
    private static func records(of shards: RunShards, under key: @escaping @Sendable (Int) -> RecordKey,
                                dht: DHTService) async -> [SignedRecord] {
        await withTaskGroup(of: [SignedRecord].self) { group in
            for shard in 0..<shards.count {
                group.addTask {
                    ((try? await dht.get(key(shard))) ?? []).filter { shards.shard(of: $0.ownerID) == shard }
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
    }

    /// What the shell acts on: the DHT, the journal, and the records it publishes.
    struct Shell {
        let dht: DHTService
        let journal: RoundJournal
        let config: SignedRunConfig
        var revocations: RevocationPublisher?
    }

    /// Carries out one directive of the coordinator's session; the event that answers it, for
    /// those that await one.
    private func execute(_ directive: CoordinatorSession.Directive, in shell: inout Shell) async -> CoordinatorSession.Event? {
        let dht = shell.dht
        let keys = RunKeys(runName: settings.config.name)
        switch directive {
        case .publishRevocations:
            await shell.revocations?.poll(dht: dht, logger: logger)
        case .publishConfig:
            _ = try? await dht.put(key: RunKeys.runs, subkey: Array(settings.config.name.utf8), value: shell.config.encoded,
                                   expiresAt: Self.now().wall + RunTimings.runConfigLifetime)
        case .readRun:
            let shards = settings.config.shards
            let progress = OwnedRecord.decoding(await Self.records(of: shards, under: { keys.progress(shard: $0, of: shards) }, dht: dht),
                                                with: PeerProgress.init(decoding:))
            let state = OwnedRecord.decoding(await Self.records(of: shards, under: { keys.state(shard: $0, of: shards) }, dht: dht),
                                             with: StateAnnouncement.init(decoding:))
            let banned = Array((try? await dht.transport.bannedPeers().get()) ?? [])
            return .runRead(progress: progress, state: state, banned: banned)
        case .reportOffence(let peer, let offence):
            dht.transport.reportOffence(offence, by: peer)
        case .rememberServingPeers(let endpoints):
            rememberPeers(endpoints)
        case .showProgress(let view):
            update {
                $0.peers = view.peers
                $0.step = view.step
                $0.samplesAccumulated = view.samplesAccumulated
                $0.hashMismatches = view.hashMismatches
                $0.bannedPeers = view.bannedPeers
                let reported = view.peers.compactMap(\.utilisation)
                $0.utilisation = reported.isEmpty ? nil : reported.reduce(0, +) / Double(reported.count)
            }
        case .readRoundReports(let step):
            let reports = OwnedRecord.decoding((try? await dht.get(keys.round(step: step))) ?? [], with: RoundReport.init(decoding:))
            return .roundReportsRead(step: step, reports: reports)
        case .journal(let round):
            do {
                try shell.journal.append(round)
            } catch {
                return .journalFailed(reason: "\(error)")
            }
            lock.withLock { history.record(round) }
            return .journaled
        case .backUp(let source):
            return await backUp(source, dht: dht)
        case .announceCheckpoint(let announcement):
            do {
                _ = try await dht.put(key: keys.checkpoint, subkey: dht.peerID.bytes, value: announcement.encoded,
                                      expiresAt: announcement.writtenAt + RunTimings.checkpointAnnouncementLifetime)
                return .checkpointAnnounced
            } catch {
                return .checkpointAnnounceFailed(reason: "\(error)")
            }
        case .sleep(let until):
            let wait = until - Self.monotonic()
            if wait > .zero { try? await Task.sleep(for: wait) }
            return .woke
        case .note(let note):
            log(note)
        }
        return nil
    }

    /// Downloads the elected state, saves it as a checkpoint and serves it.
    private func backUp(_ source: CoordinatorSession.CheckpointSource, dht: DHTService) async -> CoordinatorSession.Event {
        do {
            let bytes = try await StateFetcher(transport: dht.transport, logger: logger)
                .download(step: source.step, hash: source.hash, byteCount: source.stateBytes,
                          donors: source.donors.map { ($0.peer, $0.endpoint) })
            let folder = try keeper.save(config: settings.config.training.model, promptTuning: settings.config.promptTuning, state: bytes, step: source.step)
            update {
                $0.lastCheckpointStep = source.step
                $0.lastCheckpointPath = folder.path
            }
            logger.info("checkpoint", metadata: ["step": "\(source.step)", "path": "\(folder.path)"])
            return .checkpointSaved(serve(StateSnapshot(step: source.step, bytes: bytes), endpoint: dht.endpoint))
        } catch {
            return .checkpointFailed(reason: "\(error)")
        }
    }

    private func log(_ note: CoordinatorSession.Note) {
        switch note {
        case .refusedStateAnnouncement(let refusal):
            logger.debug("refused a state announcement", metadata: ["reason": "\(refusal)"])
        case .journalFailed(let reason):
            logger.error("\(reason)")
        case .checkpointFailed(let reason, let retry):
            logger.warning("checkpoint failed, retrying in \(retry) s: \(reason)")
        case .checkpointAnnounceFailed(let reason):
            logger.warning("could not announce the checkpoint", metadata: ["error": "\(reason)"])
        }
    }
}

extension RunCoordinator {
    /// Serves the checkpoint in `folder` and returns its announcement, unless it does not hold a
    /// state of this run's model (then peers are better off starting afresh: logged).
    private func serveCheckpoint(at folder: URL, endpoint: Endpoint) -> StateAnnouncement? {
        do {
            let (step, state) = try keeper.loadState(config: settings.config.training.model, promptTuning: settings.config.promptTuning, from: folder)
            return serve(StateSnapshot(step: step, bytes: state), endpoint: endpoint)
        } catch {
            logger.warning("not serving the newest checkpoint: \(error)")
            return nil
        }
    }

    private func serve(_ snapshot: StateSnapshot, endpoint: Endpoint) -> StateAnnouncement {
        checkpointServer.publish(snapshot)
        logger.info("serving checkpoint", metadata: ["step": "\(snapshot.step)"])
        return StateAnnouncement(step: snapshot.step, stateHash: snapshot.hash, stateBytes: snapshot.bytes.count,
                                 host: endpoint.host, port: endpoint.port, timestampMilliseconds: 0)
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
