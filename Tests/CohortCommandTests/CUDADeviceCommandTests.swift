import CUDAEmulation
import CohortProcessSupport
import Foundation
import Testing

/// `--device` as a user meets it: the real executable on the emulated CUDA libraries (the GPU
/// code path, on the CPU) against the CPU, a machine without CUDA, and a run where a CPU peer
/// and a GPU peer average together.
@Suite(.serialized) struct CUDADeviceCommandTests {
    static let settings = """
        {"model": {"hidden_size": 24, "layer_count": 2, "head_count": 3, "context_length": 16},
         "batch_size": 4, "learning_rate": 0.3, "warmup_steps": 1, "steps": 4,
         "validation_interval": 4, "checkpoint_interval": 4, "validation_windows": 4}
        """

    /// The environment that makes `cohort` load the emulated libraries.
    static func emulatedGPU() throws -> [String: String] {
        do {
            return ["COHORT_CUDA_LIBRARY_PATH": try EmulatedCUDALibraries.built.get().path]
        } catch {
            try Test.cancel("the emulated CUDA libraries could not be built: \(error)")
        }
    }

    static func meanLoss(_ output: CommandRunner.Output) throws -> Double {
        #expect(output.status == 0, "\(output.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
        return try #require(object["mean_loss"] as? Double)
    }

    @Test func trainEvalAndSampleOnTheGPUPathMatchTheCPU() throws {
        let gpu = try Self.emulatedGPU()
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("settings.json")
        try Data(Self.settings.utf8).write(to: config)
        let data = folder.appendingPathComponent("text.txt")
        try Data(String(repeating: "Now is the winter of our discontent made glorious summer. ", count: 30).utf8).write(to: data)
        var checkpoints: [String] = []
        for device in ["cuda", "cpu"] {
            let output = folder.appendingPathComponent(device).path
            let trained = try CommandRunner.run(["train", "--config", config.path, "--data", data.path, "--output", output,
                                                 "--device", device, "--threads", "1"], environment: gpu)
            #expect(trained.status == 0, "\(trained.stderr)")
            let expectedDevice = device == "cuda" ? "device: Cohort emulated GPU (CUDA" : "device: CPU"
            #expect(trained.stderr.hasPrefix(expectedDevice), "\(trained.stderr)")
            checkpoints.append(output)
        }
        let evaluate = { (checkpoint: String, device: String) in
            try Self.meanLoss(CommandRunner.run(["eval", "--checkpoint", checkpoint, "--data", data.path, "--context", "16",
                                                 "--device", device, "--json"], environment: gpu))
        }
        let trainedOnGPU = try evaluate(checkpoints[0], "cpu"), trainedOnCPU = try evaluate(checkpoints[1], "cpu")
        #expect(abs(trainedOnGPU - trainedOnCPU) < 1e-4 * trainedOnCPU, "GPU-trained \(trainedOnGPU), CPU-trained \(trainedOnCPU)")
        let evaluatedOnGPU = try evaluate(checkpoints[0], "cuda")
        #expect(abs(evaluatedOnGPU - trainedOnGPU) < 1e-5 * trainedOnGPU)

        let samples = try ["cuda", "cpu"].map { device in
            try CommandRunner.run(["sample", "--checkpoint", checkpoints[1], "--prompt", "Now is", "--length", "12",
                                   "--temperature", "0", "--device", device], environment: gpu)
        }
        #expect(samples.allSatisfy { $0.status == 0 }, "\(samples.map(\.stderr))")
        #expect(samples[0].stdout == samples[1].stdout)
    }

    @Test func withoutCUDATheCudaDeviceFailsInOneLineAndAutoTrainsOnTheCPU() throws {
        let info = try CommandRunner.run(["info", "--json"])
        let cuda = (try? JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])?["cuda"] as? [String: Any]
        guard (cuda?["devices"] as? [Any])?.isEmpty ?? false else {
            try Test.cancel("this machine has a GPU, so a missing driver cannot be shown")
        }
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("settings.json")
        try Data(Self.settings.utf8).write(to: config)
        let arguments = ["train", "--config", config.path, "--output", folder.appendingPathComponent("run").path,
                         "--steps", "1", "--threads", "1"]
        let empty = ["COHORT_CUDA_LIBRARY_PATH": folder.path]

        let refused = try CommandRunner.run(arguments + ["--device", "cuda"], environment: empty)
        #expect(refused.status != 0)
        let lines = refused.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("Error: --device cuda: no CUDA driver library (libcuda.so.1)"),
                "\(refused.stderr)")

        let fallback = try CommandRunner.run(arguments + ["--device", "auto"], environment: empty)
        #expect(fallback.status == 0, "\(fallback.stderr)")
        #expect(fallback.stderr.hasPrefix("device: CPU (no usable GPU: no CUDA driver library"), "\(fallback.stderr)")
        #expect(fallback.stdout.contains("step     1/1"))
    }

    /// The averaged update is applied on the host by the same code on both peers, so a CPU peer
    /// and a GPU peer end every round they average together with the same state.
    @Test func aCPUPeerAndAGPUPeerAverageTogetherAndAgreeOnTheState() throws {
        let gpu = try Self.emulatedGPU()
        let run = try CollaborativeRunTests.Run.inNewFolder()
        defer { try? FileManager.default.removeItem(at: run.folder) }
        let coordinator = try run.coordinator()
        defer { coordinator.kill() }
        let join = try #require(coordinator.firstMatch("peers join with: cohort peer --join (\\S+)", timeout: 60),
                                "coordinator did not start: \(coordinator.output)")
        let cpuPeer = try run.peer("cpu-peer", join: join, extra: ["--device", "cpu"])
        let gpuPeer = try CohortChildProcess(
            ["peer", "--join", join, "--listen", "127.0.0.1:0", "--threads", "1", "--device", "cuda"],
            log: run.folder.appendingPathComponent("gpu-peer.log"), environment: gpu)
        defer {
            cpuPeer.kill()
            gpuPeer.kill()
        }
        #expect(eventually(timeout: 120) {
            let one = CollaborativeRunTests.statesAveragedInPairs(cpuPeer.output)
            let other = CollaborativeRunTests.statesAveragedInPairs(gpuPeer.output)
            return Set(one.keys).intersection(other.keys).count >= 3
        }, "CPU peer: \(cpuPeer.output.suffix(2000))\nGPU peer: \(gpuPeer.output.suffix(2000))")
        #expect(gpuPeer.output.contains("device: Cohort emulated GPU (CUDA"))
        let one = CollaborativeRunTests.statesAveragedInPairs(cpuPeer.output)
        let other = CollaborativeRunTests.statesAveragedInPairs(gpuPeer.output)
        for step in Set(one.keys).intersection(other.keys) {
            #expect(one[step] == other[step], "the CPU and GPU peers disagree after the round of step \(step)")
        }
    }
}
