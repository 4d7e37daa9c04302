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
                                                  stop: stop, joinAddresses: settings.join).fetch()
            let session = PeerSession(settings: settings, logger: logger, stop: stop, identity: identity, network: network,
                                      config: config, coordinator: coordinator, run: try makeTrainingRun(config: config))
            logger.info("joined run", metadata: ["run": "\(config.name)", "peer.id": "\(identity.peerID)",
                                                 "parameters": "\(session.run.averagingVector.count)"])
            try await session.run()
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
                                                    "token.expiry": "\(token.claims.expiresAt.iso8601)"])
        return policy
    }

    /// This peer's trainer for the run: the run's model and optimizer, the peer's own data and
    /// micro-batch, the learning rate the run's temperature and global batch give.
    /// Under local SGD the peer's inner steps take the config's batch each, at the run's rate
    /// (the temperature times the target batch, as in per-step averaging): peers whose inner
    /// batches add up to the target batch then move the shared parameters, averaged plainly,
    /// as far per sample as per-step averaging does.
    private func makeTrainingRun(config: RunConfig) throws -> TrainingRun {
        var training = config.training
        let localSGD = config.localSGD.localSteps > 1
        // An inner step's batch is whole micro-batches.
        let largest = min(training.batchSize, settings.maxMicroBatch ?? training.batchSize)
        let micro = localSGD ? (1...largest).last { training.batchSize % $0 == 0 }! : largest
        if !localSGD { training.batchSize = micro }
        training.learningRate = config.peakLearningRate
        training.microBatchSize = micro
        training.temperature = nil
        if let prompt = config.promptTuning { return try makePromptTuningRun(prompt, training: training) }
        guard settings.dataURL != nil || config.dataset == RunConfig.bundledDataset else {
            throw PeerError("run \(config.name) trains on \"\(config.dataset)\": give your shard of it with --data FILE")
        }
        let dataset = try TextDataset(contentsOf: settings.dataURL ?? settings.bundledDataURL,
                                      validationFraction: training.validationFraction, contextLength: training.model.contextLength)
        // Peers share the initial parameters (the run's seed) but not the order of their data.
        let run = try TrainingRun(settings: training, dataset: dataset, dataSeed: UInt64.random(in: .min ... .max),
                                  localSGD: localSGD ? config.localSGD : nil)
        run.lanes = BLASRuntime.threads
        run.accelerator = try settings.accelerator(training)
        return run
    }

    /// A prompt-tuning run's trainer: the base model the run names, the bundled task.
    private func makePromptTuningRun(_ prompt: PromptTuningSettings, training: TrainingSettings) throws -> TrainingRun {
        guard let baseURL = settings.baseModelURL else {
            throw PeerError("this is a prompt-tuning run of base model \(prompt.baseModelHash.prefix(16))…: give its folder with --base DIR")
        }
        let base = try PromptTuningSetup.loadBase(from: baseURL, settings: prompt)
        let corpus = try Data(contentsOf: settings.bundledDataURL)
        let run = try PromptTuningSetup.makeRun(base: base, settings: prompt, training: training, corpus: [UInt8](corpus),
                                                dataSeed: UInt64.random(in: .min ... .max))
        run.lanes = BLASRuntime.threads
        return run
    }
}
