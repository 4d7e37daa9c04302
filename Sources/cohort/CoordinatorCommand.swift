import ArgumentParser
import Averaging
import Collaboration
import Coordinator
import Foundation
import Peer
import Trainer
import Node

/// `cohort coordinator`: launch a run and watch over it.
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Start a run: the first DHT node, the signed run config, round history, checkpoints, dashboard.",
        discussion: """
            The run config comes from --config FILE (JSON of TrainingSettings, snake_case keys) or the \
            preset, adjusted by flags. Unless --open, only peers with an access token take part \
            (cohort token issue); they join with: cohort peer --join THIS_HOST:PORT --token FILE
            """)

    @Option(help: "Run name (letters, digits, '-', '_', '.').") var run: String
    @Option(help: "HOST:PORT for DHT and peer traffic.") var listen: String = "0.0.0.0:7000"
    @Option(help: "HOST:PORT for the dashboard, /api/status and /metrics (port 0: any free port).")
    var http: String = "127.0.0.1:8080"
    @Option(help: "Host peers should dial, if not the listening one.") var announce: String?
    @Option(help: "Folder for the round journal, identity and checkpoints (default: runs/NAME).") var stateDir: String?
    @Option(help: "Identity key file (default: STATE_DIR/identity).") var identity: String?
    @Option(help: "Training settings file (JSON); its batch_size is each peer's micro-batch.") var config: String?
    @Option(help: "Model preset when no --config: S or M.") var preset: String = "S"
    @Option(help: "Sequences the run accumulates per optimizer step.") var targetBatch: Int = 64
    @Option(help: "Sequences per forward pass on each peer.") var microBatch: Int?
    @Option(help: "lr / batch temperature: peak lr = temperature × target batch.") var temperature: Double?
    @Option(help: "Peak learning rate (instead of --temperature).") var lr: Double?
    @Option(help: "Steps of the learning-rate schedule.") var steps: Int?
    @Option(help: "Gradient compression for averaging: none, float16 or int8.") var compression: String = "none"
    @Flag(help: "Members carry what compression took from their contribution into the next round (needs --compression).")
    var errorFeedback = false
    @Option(help: ArgumentHelp(
        "How owners combine gradients: mean, trimmed-mean[:fraction=F] or centered-clip[:tau=T,iterations=L].",
        discussion: "The robust choices bound what a Byzantine peer can do to a round; see docs/operations.md."))
    var aggregation: String = "mean"
    @Option(help: "Seconds peers wait for each other when forming a group.") var matchmakingSeconds: Double = 3
    @Option(help: "Seconds an averaging round may take before its slow members are left out.")
    var averagingTimeout: Double = 30
    @Option(help: "What the run trains on: \"tinyshakespeare\" (bundled) or a name volunteers bring shards of with --data.")
    var dataset: String = RunConfig.bundledDataset
    @Option(help: "Inner SGD steps each peer takes between averaging rounds (local SGD, DiLoCo); 1 averages every step.")
    var localSteps: Int = 1
    @Option(help: "Outer learning rate under local SGD (Nesterov SGD on the averaged pseudo-gradient; 1 with no momentum: plain averaging).")
    var outerLr: Double = 1
    @Option(help: "Outer Nesterov momentum under local SGD.") var outerMomentum: Double = 0
    @Option(help: ArgumentHelp("Streaming local SGD: average one of this many fragments of the parameters per round, in turn.",
                               discussion: "Each round then comes every local-steps ÷ fragments target batches and moves a fragment's bytes; it must divide --local-steps."))
    var fragments: Int = 1
    @Option(help: ArgumentHelp("Shards of the run's progress records and state announcements: 1, or a power of two from 4 to 1024.",
                               discussion: "Each peer reads its own shard's records whole and one total per other shard; about one shard per 64 expected volunteers keeps every read small (docs/protocol.md, \"Shards\")."))
    var shards: Int = 1
    @Option(help: "Make this a prompt-tuning run of the frozen base model in this folder (a checkpoint or transformers BLOOM folder): peers train only prompt and label vectors.")
    var promptTuningBase: String?
    @Option(help: "Prompt vectors a prompt-tuning run learns.") var promptLength: Int = 8
    @Option(help: "A prompt-tuning run's task: \(PromptTask.names.joined(separator: ", ")).")
    var task: String = PromptTask.shakespearePlaysName
    @Option(help: "Training examples per class of a prompt-tuning run's task.") var shots: Int = 32
    @Option(help: "Back up the model every N steps.") var checkpointEvery: Int = 50
    @Option(help: "Checkpoints to keep.") var keep: Int = 5
    @Flag(help: "Admit any peer. Without it only peers with an access token signed by this coordinator's key take part.")
    var open = false

    func validate() throws {
        _ = try HostPort.parse(listen)
        _ = try HostPort.parse(http)
        guard ["S", "M"].contains(preset.uppercased()) else { throw ValidationError("--preset must be S or M, got \(preset)") }
        guard RunConfig.Compression(rawValue: compression) != nil else {
            throw ValidationError("--compression must be none, float16 or int8, got \(compression)")
        }
        do {
            _ = try Aggregation(parsing: aggregation)
        } catch {
            throw ValidationError("--aggregation: \(error)")
        }
        if lr != nil && temperature != nil { throw ValidationError("give --lr or --temperature, not both") }
        guard checkpointEvery >= 1, keep >= 1 else { throw ValidationError("--checkpoint-every and --keep must be at least 1") }
    }

    func runConfig() throws -> RunConfig {
        var training = try config.map { try TrainingSettings.load(from: URL(fileURLWithPath: $0)) }
            ?? TrainingSettings(model: preset.uppercased() == "M" ? .medium : .small)
        if config == nil {
            training.batchSize = 8
            training.warmupSteps = 20
            training.steps = 2000
            training.temperature = 0.01
        }
        if let microBatch { training.batchSize = microBatch }
        training.microBatchSize = nil
        if let lr { (training.learningRate, training.temperature) = (lr, nil) }
        if let temperature { (training.learningRate, training.temperature) = (nil, temperature) }
        if let steps { training.steps = steps }
        var runConfig = RunConfig(name: run, training: training, targetBatchSize: targetBatch)
        runConfig.compression = RunConfig.Compression(rawValue: compression)!
        runConfig.errorFeedback = errorFeedback
        runConfig.matchmakingSeconds = matchmakingSeconds
        runConfig.aggregation = try Aggregation(parsing: aggregation)
        runConfig.averagingTimeoutSeconds = averagingTimeout
        runConfig.dataset = dataset
        runConfig.localSGD = LocalSGDSettings(localSteps: localSteps, outerLearningRate: outerLr, outerMomentum: outerMomentum,
                                              fragments: fragments)
        do {
            runConfig.shards = try RunShards(count: shards)
        } catch {
            throw ValidationError("--shards: \(error.description)")
        }
        if let promptTuningBase {
            let base = try PromptTuningSetup.loadByteModel(from: URL(fileURLWithPath: promptTuningBase))
            var prompt = PromptTuningSettings(baseModelHash: BaseModelFingerprint.hash(of: base))
            prompt.promptLength = promptLength
            prompt.task = task
            prompt.shotsPerClass = shots
            runConfig.promptTuning = prompt
            try PromptTuningSetup.check(settings: prompt, base: base.config, corpus: [UInt8](try Data(contentsOf: BundledCorpus.url)))
            runConfig.training.model = PromptTuningSetup.runShape(of: base.config, settings: prompt)
        }
        try runConfig.validate()
        return runConfig
    }

    func run() async throws {
        let logger = makeLogger("cohort.coordinator")
        let config = try runConfig()
        if let warning = config.temperatureWarning { logger.warning("\(warning)") }
        var settings = CoordinatorSettings(config: config,
                                           stateDirectory: URL(fileURLWithPath: stateDir ?? "runs/\(run)"))
        settings.listen = try HostPort.parse(listen)
        settings.announceHost = announce ?? (settings.listen.host == "0.0.0.0" ? "127.0.0.1" : nil)
        settings.identityPath = identity
        settings.checkpointEvery = checkpointEvery
        settings.keep = keep
        settings.isOpen = open
        let stop = StopSignal()
        let sources = SignalStop.install(stop) { name in logger.info("stopping", metadata: ["signal": "\(name)"]) }
        defer { sources.forEach { $0.cancel() } }
        let coordinator = RunCoordinator(settings: settings, logger: logger, stop: stop)
        let httpEndpoint = try HostPort.parse(http)
        let dashboard = try await DashboardServer.bind(
            settings: .init(host: httpEndpoint.host, port: Int(httpEndpoint.port)), logger: logger,
            rounds: { try coordinator.rounds(since: $0.since, limit: $0.limit) }) { coordinator.status() }
        let shownHost = httpEndpoint.host == "0.0.0.0" ? "127.0.0.1" : httpEndpoint.host
        print("dashboard: http://\(shownHost):\(dashboard.port)/")
        let name = run, isOpen = open, stateDirectory = settings.stateDirectory.path
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await dashboard.run() }
            group.addTask {
                defer { dashboard.shutdown() }
                try await coordinator.run { endpoint, key in
                    if isOpen {
                        print("coordinator of open run \(name) listening; peers join with: cohort peer --join \(endpoint) --coordinator-key \(key)")
                    } else {
                        print("coordinator of run \(name) listening; peers join with: cohort peer --join \(endpoint) --token FILE")
                        print("issue a FILE per volunteer key with: cohort token issue --run \(name) --state-dir \(stateDirectory) --peer-key KEY --name NAME --out FILE")
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
