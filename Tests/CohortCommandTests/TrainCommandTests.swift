import CohortProcessSupport
import Foundation
import Testing

/// End-to-end: the real executable trains, checkpoints, resumes, evaluates and samples.
@Suite(.serialized) struct TrainCommandTests {
    static let settings = """
        {"model": {"hidden_size": 16, "layer_count": 1, "head_count": 2, "context_length": 16},
         "batch_size": 4, "learning_rate": 0.1, "warmup_steps": 1, "steps": 4,
         "validation_interval": 2, "checkpoint_interval": 2, "validation_windows": 4}
        """

    @Test func trainCheckpointResumeEvalAndSample() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("settings.json")
        try Data(Self.settings.utf8).write(to: config)
        let data = folder.appendingPathComponent("text.txt")
        try Data(String(repeating: "All the world's a stage, and all the men and women merely players. ", count: 40).utf8).write(to: data)
        let output = folder.appendingPathComponent("run").path

        let trained = try CommandRunner.run(["train", "--config", config.path, "--data", data.path, "--output", output,
                                             "--log-every", "2", "--threads", "1"])
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(trained.stdout.contains("step     4/4"))
        #expect(trained.stdout.contains("validation | step 4"))
        for name in ["config.json", "model.safetensors", "optimizer.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: output + "/" + name), "\(name)")
        }

        let resumed = try CommandRunner.run(["train", "--config", config.path, "--data", data.path, "--output", output,
                                             "--resume", "--steps", "6", "--threads", "1"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("resumed from \(output) at step 4"))
        #expect(resumed.stdout.contains("step     6/6"))

        let window = folder.appendingPathComponent("window.txt")
        try Data(String(repeating: "x", count: 17).utf8).write(to: window)
        let evaluated = try CommandRunner.run(["eval", "--checkpoint", output, "--data", window.path, "--context", "16", "--json"])
        #expect(evaluated.status == 0, "\(evaluated.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as? [String: Any])
        #expect(object["tokens"] as? Int == 16)
        let loss = try #require(object["mean_loss"] as? Double)
        #expect(loss > 0 && abs((object["perplexity"] as? Double ?? 0) - exp(loss)) < 1e-9)

        let slid = try CommandRunner.run(["eval", "--checkpoint", output, "--data", data.path, "--context", "16",
                                          "--stride", "8", "--json"])
        #expect(slid.status == 0, "\(slid.stderr)")
        let slidObject = try #require(try JSONSerialization.jsonObject(with: Data(slid.stdout.utf8)) as? [String: Any])
        #expect(slidObject["stride"] as? Int == 8)
        #expect(slidObject["tokens"] as? Int == 40 * 67 - 1, "every byte after the first is scored once")

        let sampled = try CommandRunner.run(["sample", "--checkpoint", output, "--prompt", "All the", "--length", "20"])
        #expect(sampled.status == 0, "\(sampled.stderr)")
        #expect(sampled.stdout.hasPrefix("All the"))
    }

    @Test func badInputGetsAOneLineErrorAndAFailureStatus() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let preset = try CommandRunner.run(["train", "--preset", "XL"])
        #expect(preset.status != 0)
        #expect(preset.stderr.contains("--preset must be S or M, got XL"))

        try Data("{}".utf8).write(to: folder.appendingPathComponent("config.json"))
        let checkpoint = try CommandRunner.run(["eval", "--checkpoint", folder.path, "--data", "/dev/null"])
        #expect(checkpoint.status != 0)
        #expect(checkpoint.stderr.contains("config.json: missing vocab_size"))

        let badAggregation = try CommandRunner.run(["coordinator", "--run", "x", "--aggregation", "trimmed-mean:fraction=0.5"])
        #expect(badAggregation.status != 0)
        #expect(badAggregation.stderr.contains(
            "--aggregation: aggregation \"trimmed-mean:fraction=0.5\": trim fraction 0.5 must be above 0 and below 0.5"))

        let badKey = try CommandRunner.run(["peer", "--join", "127.0.0.1:1", "--coordinator-key", "zz"])
        #expect(badKey.status != 0)
        #expect(badKey.stderr.contains("--coordinator-key must be 64 hex digits"))

        let missingData = try CommandRunner.run(["train", "--data", folder.appendingPathComponent("absent.txt").path, "--steps", "1"])
        #expect(missingData.status != 0)
        #expect(missingData.stderr.contains("absent.txt: cannot read data file"))

        let usedFolder = try CommandRunner.run(["demo", "--state-dir", folder.path])
        #expect(usedFolder.status != 0)
        #expect(usedFolder.stderr.contains("already holds an earlier run's files; choose a new folder or remove it"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["config.json"], "the folder was left as it was")
    }

    @Test func slowOpenBLASKernelIsReplacedAtStartUp() throws {
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        try #require(flags.contains(" avx2"), "this CPU has no AVX2: the generic kernel is already the right one")
        let output = try CommandRunner.run(["info", "--json"], environment: ["OPENBLAS_CORETYPE": "Prescott"])
        #expect(output.status == 0, "\(output.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
        let core = try #require(object["blas_core"] as? String)
        #expect(core != "Prescott")
    }
}
