import Admission
import Averaging
import Collaboration
import DHT
import Foundation
import Logging
import NIOCore
import NIOPosix
import Node
import Trainer
import Wire

/// A volunteer: joins a run through the DHT, trains on its own data, averages gradients with
/// the other peers whenever the run's global batch is complete, and takes the same SGD step.
///
/// The loop (DeDLOC §3): accumulate micro-batches and publish progress; when the peers' samples
/// for the step reach the target batch, match with the others, all-reduce the gradient arena
/// weighted by samples, apply the update, and announce the new state's hash. A peer that finds
/// itself behind, or whose hash disagrees with its round's, downloads the state again before
/// it averages the next step.
public final class VolunteerPeer {
    public let settings: VolunteerSettings
    let logger: Logger
    let stop: StopSignal

    public init(settings: VolunteerSettings, logger: Logger, stop: StopSignal) {
        self.settings = settings
        self.logger = logger
        self.stop = stop
    }

    public func run() async throws {
        var random = SystemRandomNumberGenerator()
        let identity = try settings.identityPath.map { try IdentityFile.loadOrCreate(at: $0) } ?? PeerIdentity(using: &random)
        // The key an operator needs to issue this peer a token (docs/operations.md).
        logger.info("identity", metadata: ["peer.id": "\(identity.peerID)",
                                           "peer.key": "\(identity.publicKey.map { String(format: "%02x", $0) }.joined())"])
        let admission = try admission(for: identity)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let network = try await RunNetwork.start(identity: identity, volunteer: settings, admission: admission,
                                                 eventLoop: group.next(), logger: logger)
        do {
            try await network.bootstrap(settings.join, logger: logger, stop: stop)
            let (config, coordinator) = try await RunConfigFetcher(network: network, runName: settings.runName ?? settings.accessToken?.claims.runName,
                                                  coordinatorKey: settings.coordinatorKey ?? settings.accessToken?.issuerPublicKey,
                                                  stop: stop).fetch()
            let session = PeerSession(settings: settings, logger: logger, stop: stop, identity: identity, network: network,
                                      config: config, coordinator: coordinator, run: try makeTrainingRun(config: config))
            logger.info("joined run", metadata: ["run": "\(config.name)", "peer.id": "\(identity.peerID)",
                                                 "parameters": "\(session.run.model.parameters.count)"])
            try await session.catchUp(force: false)
            try await session.trainUntilStopped()
            await session.sayGoodbye()
        } catch {
            await network.shutdown()
            try? await group.shutdownGracefully()
            throw error
        }
        await network.shutdown()
        try? await group.shutdownGracefully()
    }

    /// Open without a token; with one, admitted-only under the run the token is for.
    private func admission(for identity: PeerIdentity) throws -> AdmissionPolicy {
        guard let token = settings.accessToken else { return .open }
        let policy: AdmissionPolicy
        do {
            policy = try .presenting(token, as: identity)
        } catch {
            throw PeerError("cannot use the access token: \(error)")
        }
        logger.info("admitted-only run", metadata: ["run": "\(token.claims.runName)", "token.name": "\(token.claims.name)",
                                                    "token.expiry": "\(Date(timeIntervalSince1970: Double(token.claims.expiry) / 1000))"])
        return policy
    }

    /// This peer's trainer for the run: the run's model and optimizer, the peer's own data and
    /// micro-batch, the learning rate the run's temperature and global batch give.
    private func makeTrainingRun(config: RunConfig) throws -> TrainingRun {
        var training = config.training
        let micro = min(training.batchSize, settings.maxMicroBatch ?? training.batchSize)
        training.batchSize = micro
        training.microBatchSize = micro
        training.learningRate = config.peakLearningRate
        training.temperature = nil
        guard settings.dataURL != nil || config.dataset == RunConfig.bundledDataset else {
            throw PeerError("run \(config.name) trains on \"\(config.dataset)\": give your shard of it with --data FILE")
        }
        let dataset = try TextDataset(contentsOf: settings.dataURL ?? settings.bundledDataURL,
                                      validationFraction: training.validationFraction, contextLength: training.model.contextLength)
        // Peers share the initial parameters (the run's seed) but not the order of their data.
        let run = try TrainingRun(settings: training, dataset: dataset, dataSeed: UInt64.random(in: .min ... .max))
        run.lanes = BLASRuntime.threads
        return run
    }
}

/// One peer's membership in a run: what it joined with and what it tracks while training.
final class PeerSession {
    let settings: VolunteerSettings
    let logger: Logger
    let stop: StopSignal
    let identity: PeerIdentity
    let network: RunNetwork
    let config: RunConfig
    /// The coordinator that signed the run config: the one source of checkpoints peers trust.
    let coordinator: DHTID
    let run: TrainingRun
    let keys: RunKeys
    var bandwidth = BandwidthEstimator(firstGuess: 100_000_000)
    /// What this peer tells its groups its bandwidth is: the fixed one, else the estimate.
    var announcedBandwidth: UInt64 { settings.fixedBandwidth ?? bandwidth.announced }
    var lastPublished = Date.distantPast
    var windowLoss = 0.0
    var windowSamples = 0
    var throughput = Throughput()
    var nextReconnect = Date.distantPast
    var reconnectDelay = 1.0
    /// Times this peer found its state was not the agreed one for its step (and reloaded).
    var hashMismatches = 0
    /// Hash of the state this peer announced last.
    var announcedHash: [UInt8] = []
    /// The last round, until its members' states have been compared (`agreementSettled`).
    var pendingAgreement: PendingAgreement?
    /// Peers that held a round up, with the matchmaking attempts for which their declarations
    /// still do not count:
    /// leaders that sent no plan, and members of the last rounds that sent nothing at all or
    /// failed the checks (not members that were merely late: honest stragglers). A peer that
    /// declares and then does nothing would otherwise cost every round a plan timeout or the
    /// sender deadline; this way it costs one.
    var excludedPeers: [Averaging.PeerID: Int] = [:]
    static let exclusionAttempts = 5

    init(settings: VolunteerSettings, logger: Logger, stop: StopSignal, identity: PeerIdentity, network: RunNetwork,
         config: RunConfig, coordinator: DHTID, run: TrainingRun) {
        self.settings = settings
        self.coordinator = coordinator
        self.logger = logger
        self.stop = stop
        self.identity = identity
        self.network = network
        self.config = config
        self.run = run
        keys = RunKeys(runName: config.name)
    }

    var me: Averaging.PeerID { Averaging.PeerID(bytes: identity.peerID.bytes)! }

    func trainUntilStopped() async throws {
        while !stop.isStopped {
            if let last = settings.stopAfterStep, run.step >= last { return }
            let started = Date()
            let loss = run.accumulateMicroBatch()
            throughput.record(samples: run.settings.effectiveMicroBatchSize, seconds: Date().timeIntervalSince(started))
            windowLoss += loss * Double(run.settings.effectiveMicroBatchSize)
            windowSamples += run.settings.effectiveMicroBatchSize
            guard Date().timeIntervalSince(lastPublished) >= 0.5 else { continue }
            lastPublished = Date()
            try await checkStillAdmitted()
            await ensureConnected()
            await publishProgress()
            let records = PeerProgress.records(in: await network.records(keys.progress)).map(\.progress)
            let global = progressTracker.globalProgress(of: records, now: RunNetwork.milliseconds())
            if global.step > run.step {
                logger.info("behind the run", metadata: ["own.step": "\(run.step)", "run.step": "\(global.step)"])
                try await catchUp(force: true)
            } else if global.isTargetReached, try await agreementSettled() {
                try await averageAndStep(expectedPeers: global.peersAtStep)
            }
        }
    }

    var progressTracker: ProgressTracker {
        var tracker = ProgressTracker(targetBatchSize: config.targetBatchSize)
        tracker.staleAfterMilliseconds = 20_000
        return tracker
    }

    /// When every contact is gone (the network was lost), joins again through the `--join`
    /// addresses, with growing pauses between attempts; training goes on meanwhile.
    func ensureConnected() async {
        guard Date() >= nextReconnect, (try? await network.dht.routingTableCount()) == 0 else { return }
        if let contacts = try? await network.dht.bootstrap(settings.join), contacts > 0 {
            logger.info("rejoined the DHT", metadata: ["contacts": "\(contacts)"])
            reconnectDelay = 1
        } else {
            logger.warning("no DHT contact answers; retrying in \(Int(reconnectDelay)) s")
            nextReconnect = Date().addingTimeInterval(reconnectDelay)
            reconnectDelay = min(reconnectDelay * 2, 60)
        }
    }

    /// In an admitted-only run, ends the session once this peer's token has expired or the
    /// run revoked its key: every other peer refuses it from then on.
    func checkStillAdmitted() async throws {
        guard let token = settings.accessToken else { return }
        if AdmissionPolicy.wallClock() >= token.claims.expiry {
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

    var ownProgress: PeerProgress {
        PeerProgress(step: run.step, samplesAccumulated: run.accumulatedSamples, samplesPerSecond: throughput.samplesPerSecond,
                     loss: windowSamples > 0 ? windowLoss / Double(windowSamples) : 0,
                     timestampMilliseconds: RunNetwork.milliseconds(), clientMode: settings.clientMode)
    }

    func publishProgress() async {
        await network.publish(keys.progress, ownProgress.encoded, seconds: 60, logger: logger)
    }

    /// Tells the run this peer is gone, so others stop counting its samples at once.
    func sayGoodbye() async {
        var progress = ownProgress
        progress.samplesAccumulated = 0
        progress.samplesPerSecond = 0
        progress.timestampMilliseconds = 0
        await network.publish(keys.progress, progress.encoded, seconds: 2, logger: logger)
        logger.info("left the run", metadata: ["step": "\(run.step)"])
    }
}

/// Samples per second over the recent micro-batches.
struct Throughput {
    private var samples = 0.0
    private var seconds = 0.0

    mutating func record(samples count: Int, seconds elapsed: Double) {
        // Exponential forgetting keeps the estimate current without storing a window.
        samples = samples * 0.8 + Double(count)
        seconds = seconds * 0.8 + elapsed
    }

    var samplesPerSecond: Double { seconds > 0 ? samples / seconds : 0 }
}
