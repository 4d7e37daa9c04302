import ArgumentParser
import Collaboration
import Coordinator
import Foundation
import Logging
import Trainer

/// `cohort demo`: a whole collaborative run on this machine.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a coordinator and volunteer peers on this machine and train on Tiny Shakespeare together.",
        discussion: """
            Starts a coordinator and --peers peers as separate processes on 127.0.0.1, adds one more \
            peer mid-run and lets one leave, prints every averaging round, then samples text from the \
            trained model and reports its validation loss.
            """)

    @Option(help: "Peers at the start (one more joins mid-run, one leaves).") var peers: Int = 3
    @Option(help: "Optimizer steps to train.") var steps: Int = 160
    @Option(help: "Stop after this many minutes even if --steps is not reached.") var minutes: Double = 10
    @Option(help: "Sequences per optimizer step, summed over all peers.") var targetBatch: Int = 24
    @Option(help: "Folder for logs, the journal and checkpoints (default: runs/demo-TIMESTAMP).") var stateDir: String?
    @Option(help: "Write a JSON summary here.") var summary: String?
    @Option(help: "Gradient compression: none, float16 or int8.") var compression: String = "none"
    @Flag(help: "Peers carry what compression took from their contribution into the next round.") var errorFeedback = false
    @Option(help: "Inner SGD steps per averaging round (local SGD); --steps then counts averaging rounds.") var localSteps: Int = 1
    @Option(help: "Outer learning rate under local SGD.") var outerLr: Double = 1
    @Option(help: "Outer Nesterov momentum under local SGD.") var outerMomentum: Double = 0
    @Option(help: "Streaming local SGD: rounds average one of this many fragments of the parameters in turn; must divide --local-steps.")
    var fragments: Int = 1
    @Flag(help: "Tune a prompt of a frozen model instead: which of two plays a speech is from, against zero-shot and full fine-tuning.")
    var promptTuning = false
    @Option(help: "With --prompt-tuning: the frozen base model folder (default: train config S here first).") var base: String?
    @Option(help: "With --prompt-tuning and no --base: steps to train the base model.") var baseSteps: Int = 400
    @Option(help: "With --prompt-tuning: prompt vectors to learn.") var promptLength: Int = 8
    @Option(help: "With --prompt-tuning: training speeches per play.") var shots: Int = 64

    func validate() throws {
        guard (1...16).contains(peers) else { throw ValidationError("--peers must be between 1 and 16") }
        guard steps >= 4 else { throw ValidationError("--steps must be at least 4") }
        guard minutes > 0 else { throw ValidationError("--minutes must be positive") }
        guard (8...4096).contains(targetBatch) else {
            throw ValidationError("--target-batch must be between 8 (one peer's micro-batch) and 4096")
        }
        guard (1...1000).contains(localSteps) else { throw ValidationError("--local-steps must be between 1 and 1000") }
        if let problem = LocalSGDSettings(localSteps: localSteps, outerLearningRate: outerLr, outerMomentum: outerMomentum,
                                          fragments: fragments).problem {
            throw ValidationError(problem)
        }
        guard RunConfig.Compression(rawValue: compression) != nil else {
            throw ValidationError("--compression must be none, float16 or int8")
        }
        if promptTuning {
            guard localSteps == 1 else { throw ValidationError("--prompt-tuning averages every step; drop --local-steps") }
            guard (1...64).contains(promptLength), (1...1000).contains(shots), baseSteps >= 1 else {
                throw ValidationError("--prompt-length must be 1...64, --shots 1...1000 and --base-steps at least 1")
            }
        } else if base != nil {
            throw ValidationError("--base needs --prompt-tuning")
        }
        guard !errorFeedback || compression != "none" else {
            throw ValidationError("--error-feedback needs --compression float16 or int8")
        }
    }

    func run() async throws {
        let folder = URL(fileURLWithPath: stateDir ?? "runs/demo-\(Int(Date().timeIntervalSince1970))")
        // A demo starts a new run: an earlier demo's journal and keys would mix the two runs.
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: folder.path), !existing.isEmpty {
            throw DemoError("--state-dir \(folder.path) already holds an earlier run's files; choose a new folder or remove it")
        }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("logs"), withIntermediateDirectories: true)
        let prompt = try promptTuning ? PromptTuningDemo(folder: folder, baseFolder: base, baseSteps: baseSteps,
                                                         promptLength: promptLength, shots: shots) : nil
        let settings = prompt?.trainingSettings(steps: steps) ?? DemoRun.trainingSettings(steps: steps)
        let settingsFile = folder.appendingPathComponent("settings.json")
        try DemoRun.write(settings, to: settingsFile)
        var demo = DemoRun(folder: folder, settings: settings, settingsFile: settingsFile, peers: peers, steps: steps,
                           minutes: minutes, targetBatch: targetBatch, compression: compression, errorFeedback: errorFeedback,
                           localSGD: LocalSGDSettings(localSteps: localSteps, outerLearningRate: outerLr, outerMomentum: outerMomentum,
                                                      fragments: fragments),
                           prompt: prompt)
        let children = demo.children
        TerminationSignal.onFirst { number, name in
            print("— \(name): stopping the coordinator and the peers")
            children.interrupt(by: number)
        }
        let outcome: Result<DemoResult, any Error>
        do { outcome = .success(try await demo.run()) } catch { outcome = .failure(error) }
        children.stopAll()
        // Interrupted: exit as a shell reports a process that the signal ended, not with
        // whatever error the stopped children caused.
        if let signal = children.interruptingSignal { throw ExitCode(128 + signal) }
        var result = try outcome.get()
        if let prompt { try compareBaselines(prompt, result: &result) }
        if let summary {
            let data = try JSONSerialization.data(withJSONObject: result.json, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: summary))
            print("summary: \(summary)")
        }
    }

    /// Scores the base zero-shot and a fully fine-tuned copy on the same shots and samples,
    /// and prints the table the collaborative prompt is judged by.
    private func compareBaselines(_ prompt: PromptTuningDemo, result: inout DemoResult) throws {
        guard var report = result.promptTuning else { return }
        report.zeroShot = prompt.zeroShotAccuracy()
        report.fineTuned = try prompt.fineTuningAccuracy(samples: max(result.samples, 32)) { print("  " + $0) }
        result.promptTuning = report
        let trainable = TrainingRun.trainableParameterCount(for: prompt.base.config, promptTuning: prompt.settings)
        print("accuracy on \(prompt.task.test.count) held-out speeches and on the \(prompt.task.training.count) training shots (\(prompt.task.name)):")
        print("                                                  held-out   shots")
        func row(_ name: String, _ accuracy: TaskAccuracy?) {
            guard let accuracy else { return }
            print(name.padding(toLength: 48, withPad: " ", startingAt: 0)
                  + String(format: "%7.1f %%  %5.1f %%", accuracy.heldOut * 100, accuracy.shots * 100))
        }
        row("  zero-shot (base model, label words)", report.zeroShot)
        row("  prompt tuning, before (\(trainable) parameters)", report.before)
        row("  prompt tuning, after \(result.rounds) rounds", report.after)
        row("  fine-tuning all \(prompt.base.parameters.count) parameters", report.fineTuned)
    }
}
