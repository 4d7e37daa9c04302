import CohortBase
import StateSync
import Collaboration
import Coordinator
import DHT
import Foundation
import Logging
import NIOPosix
import Node
import Peer
import Trainer
import Wire

/// The processes and the timeline of `cohort demo`.
struct DemoRun {
    let folder: URL
    let settings: TrainingSettings
    let settingsFile: URL
    let peers: Int
    let steps: Int
    let minutes: Double
    let targetBatch: Int
    let compression: String
    let errorFeedback: Bool
    let localSGD: LocalSGDSettings
    /// Set for `--prompt-tuning`: the peers tune a prompt of this frozen base on its task.
    let prompt: PromptTuningDemo?
    /// Every process the demo started, for whoever stops them: the demo's end or a signal.
    let children = ChildProcessGroup()
    private var coordinator: ChildProcess?
    private var volunteers: [Int: ChildProcess] = [:]
    private var admission: DemoAdmission?

    init(folder: URL, settings: TrainingSettings, settingsFile: URL, peers: Int, steps: Int, minutes: Double,
         targetBatch: Int, compression: String, errorFeedback: Bool, localSGD: LocalSGDSettings, prompt: PromptTuningDemo? = nil) {
        self.folder = folder
        self.settings = settings
        self.settingsFile = settingsFile
        self.peers = peers
        self.steps = steps
        self.minutes = minutes
        self.targetBatch = targetBatch
        self.compression = compression
        self.errorFeedback = errorFeedback
        self.localSGD = localSGD
        self.prompt = prompt
    }

    /// Config S with a short warm-up; each peer's forward pass takes 8 sequences.
    static func trainingSettings(steps: Int) -> TrainingSettings {
        var settings = TrainingSettings(model: .small)
        settings.batchSize = 8
        settings.temperature = 0.02
        settings.warmupSteps = max(2, steps / 10)
        settings.steps = steps
        settings.validationWindows = 64
        return settings
    }

    static func write(_ settings: TrainingSettings, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(settings).write(to: url)
    }

    mutating func run() async throws -> DemoResult {
        let corpus = try TextDataset(contentsOf: BundledCorpus.url, validationFraction: settings.validationFraction,
                                     contextLength: settings.model.contextLength)
        let initialRun = try makeRun(corpus: corpus)
        let initialLoss = initialRun.validationLoss()
        if let prompt {
            print("Cohort demo: a coordinator and \(peers) peers on 127.0.0.1 tune \(prompt.settings.promptLength) prompt vectors of a frozen model on \(prompt.task.name) together")
        } else {
            print("Cohort demo: a coordinator and \(peers) peers on 127.0.0.1 train config S on Tiny Shakespeare together")
        }
        print("logs, round journal, checkpoints and keys: \(folder.path)")
        admission = try DemoAdmission(runName: "demo", stateDirectory: folder.appendingPathComponent("state"),
                                      keysFolder: folder.appendingPathComponent("keys"))
        // A prompt-tuning run scores one label per held-out example, a language model every byte.
        let unit = prompt == nil ? "nats/byte" : "nats/label on the held-out examples"
        print(String(format: "validation loss before training: %.4f %@", initialLoss, unit))
        let (join, dashboard) = try startCoordinator()
        print("dashboard: \(dashboard)")
        for index in 1...peers { try startPeer(index, join: join) }
        var table = RoundTable()
        var result = DemoResult(initialValidationLoss: initialLoss, dashboardURL: dashboard, contextLength: settings.model.contextLength)
        let journal = folder.appendingPathComponent("state/rounds.jsonl")
        let deadline = Date().addingTimeInterval(minutes * 60)
        var joined = false, left = false
        while (table.lastStep ?? -1) + 1 < steps && Date() < deadline {
            try await Task.sleep(for: .milliseconds(500))
            for round in table.newRounds(in: journal) {
                table.print(round)
                result.record(round)
            }
            let done = (table.lastStep ?? -1) + 1
            if !joined && done >= steps / 4 {
                joined = true
                print("— peer \(peers + 1) joins the run")
                try startPeer(peers + 1, join: join)
            }
            if !left && done >= steps / 2 && peers > 1 {
                left = true
                print("— peer 1 leaves the run (SIGTERM)")
                volunteers[1]?.stop()
            }
            guard coordinator?.isRunning == true else { throw DemoError("the coordinator exited; see \(folder.path)/logs") }
        }
        let status = await Self.finalStatus(dashboard: dashboard)
        result.hashMismatches = status?["hash_mismatches"] as? Int ?? -1
        result.utilisation = status?["utilisation"] as? Double
        result.peerUtilisations = (status?["peers"] as? [[String: Any]] ?? []).compactMap { $0["utilisation"] as? Double }
        let trained = try await finalModel(join: join, corpus: corpus)
        let finalLoss = trained.validationLoss()
        result.finalValidationLoss = finalLoss
        print(String(format: "validation loss after %d rounds: %.4f %@ (from %.4f); %d samples, %.1f averaging bytes sent per token",
                     result.rounds, finalLoss, unit, initialLoss, result.samples, result.bytesPerToken))
        if let utilisation = result.utilisation {
            print(String(format: "peers spent %.0f %% of their time in forward and backward passes (mean of %d)",
                         utilisation * 100, result.peerUtilisations.count))
        }
        if let prompt {
            result.promptTuning = PromptTuningReport(before: prompt.promptAccuracy(of: initialRun),
                                                     after: prompt.promptAccuracy(of: trained))
        } else {
            print("\nsampled text:\n\(Self.sample(from: trained.model))\n")
        }
        return result
    }

    private mutating func startCoordinator() throws -> (join: String, dashboard: String) {
        let child = try children.start(
            name: "coordinator",
            arguments: ["coordinator", "--run", "demo", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
                        "--state-dir", folder.appendingPathComponent("state").path, "--config", settingsFile.path,
                        "--target-batch", String(targetBatch), "--checkpoint-every", "10", "--matchmaking-seconds", "1.5",
                        "--compression", compression, "--local-steps", String(localSGD.localSteps),
                        "--outer-lr", String(localSGD.outerLearningRate), "--outer-momentum", String(localSGD.outerMomentum),
                        "--fragments", String(localSGD.fragments)]
                + (errorFeedback ? ["--error-feedback"] : [])
                + (prompt.map { ["--prompt-tuning-base", $0.baseFolder.path, "--prompt-length", String($0.settings.promptLength),
                                 "--task", $0.settings.task, "--shots", String($0.settings.shotsPerClass)] } ?? []),
            log: folder.appendingPathComponent("logs/coordinator.log"))
        coordinator = child
        guard let join = child.waitForLine(capturing: "peers join with: cohort peer --join (\\S+)", timeout: 60),
              let dashboard = child.waitForLine(capturing: "dashboard: (\\S+)", timeout: 10) else {
            throw DemoError("the coordinator did not start; see \(child.log.path)")
        }
        return (join, dashboard)
    }

    private mutating func startPeer(_ index: Int, join: String) throws {
        guard let admission else { preconditionFailure("peer \(index) started before the run key was created") }
        volunteers[index] = try children.start(
            name: "peer \(index)",
            arguments: ["peer", "--join", join, "--listen", "127.0.0.1:0", "--threads", "1"] + admission.volunteerArguments(index)
                + (prompt.map { ["--base", $0.baseFolder.path] } ?? []),
            log: folder.appendingPathComponent("logs/peer-\(index).log"))
    }

    /// A trainer for the run's model at its initial state: the demo's own for scoring.
    private func makeRun(corpus: TextDataset) throws -> TrainingRun {
        guard let prompt else { return try TrainingRun(settings: settings, dataset: corpus) }
        return try PromptTuningSetup.makeRun(base: prompt.base, settings: prompt.settings, training: settings, corpus: prompt.corpus)
    }

    /// Downloads the run's newest state from the peers, as a new volunteer would.
    private func finalModel(join: String, corpus: TextDataset) async throws -> TrainingRun {
        var logger = Logger(label: "cohort.demo")
        logger.logLevel = .warning
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var dhtSettings = DHTService.Settings()
        dhtSettings.isClient = true
        dhtSettings.transport.listen = Endpoint(host: "127.0.0.1", port: 0)
        var random = SystemRandomNumberGenerator()
        let identity = PeerIdentity(using: &random)
        if let admission {
            dhtSettings.transport.admission = try .presenting(admission.token(for: identity, name: "demo evaluation"), as: identity)
        }
        let dht = try await DHTService.start(identity: identity, settings: dhtSettings, eventLoop: group.next(), logger: logger)
        let state: (step: Int, bytes: [UInt8])
        do {
            state = try await Self.downloadState(dht: dht, join: try HostPort.parse(join), stateBytes: TrainingRun.stateByteCount(for: settings.model, promptTuning: prompt?.settings), logger: logger)
        } catch {
            await dht.shutdown()
            try? await group.shutdownGracefully()
            throw error
        }
        await dht.shutdown()
        try? await group.shutdownGracefully()
        let trained = try makeRun(corpus: corpus)
        state.bytes.withUnsafeBytes { trained.loadState(from: $0, step: state.step) }
        return trained
    }

    private static func sample(from model: TransformerModel<Float>) -> String {
        var generator = SeededGenerator(seed: 7)
        var text: [Int32] = []
        Sampler(model: model, temperature: 0.8, topK: 40)
            .generate(prompt: ByteTokenizer.encode("ROMEO:"), count: 300, generator: &generator) { text.append($0) }
        return "ROMEO:" + ByteTokenizer.decode(text)
    }

    private static func downloadState(dht: DHTService, join: Endpoint, stateBytes: Int, logger: Logger) async throws -> (step: Int, bytes: [UInt8]) {
        _ = try await dht.bootstrap([join])
        let records = try await dht.get(RunKeys(runName: "demo").state)
        let election = StateElection(stateBytes: stateBytes)
        guard let source = StateElection.winner(of: election.ballots(from: records, now: SystemClock().now().wall).ballots),
              !source.donors.isEmpty else {
            throw DemoError("no peer serves the trained state")
        }
        let bytes = try await StateFetcher(transport: dht.transport, logger: logger)
            .download(step: source.step, hash: source.hash, byteCount: source.stateBytes, donors: source.donors)
        return (source.step, bytes)
    }

    /// The coordinator's /api/status at the end of training; nil if it cannot be read.
    private static func finalStatus(dashboard: String) async -> [String: Any]? {
        guard let url = URL(string: dashboard + "api/status"), let data = LocalHTTP.get(url) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }
}

struct DemoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
