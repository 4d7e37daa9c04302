import CohortProcessSupport
import Foundation
import ONNXExport
import Testing
import Trainer

/// End-to-end: the real `cohort` trains a tiny model and exports it; onnxruntime runs the file,
/// and its logits must match the Swift trainer's forward pass (what `cohort eval` scores) at the
/// trained context, at 4× it (ALiBi extrapolation) and at a length that is neither.
struct ONNXRuntimeEquivalenceTests {
    /// Three heads: not a power of two, so the slopes take ALiBi's interleaved branch.
    static let settings = """
        {"model": {"hidden_size": 24, "layer_count": 2, "head_count": 3, "context_length": 16},
         "batch_size": 8, "learning_rate": 0.3, "warmup_steps": 4, "steps": 40,
         "validation_interval": 40, "checkpoint_interval": 40, "validation_windows": 2}
        """
    static let tolerance = 1e-4

    @Test func onnxruntimeLogitsMatchTheTrainer() throws {
        _ = try ONNXRuntimeEnvironment.requirePython()
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = try trainCheckpoint(in: folder)
        let onnxFile = folder.appendingPathComponent("model.onnx")
        let exported = try CommandRunner.run(["export", "--checkpoint", checkpoint.path, "--onnx", onnxFile.path])
        try #require(exported.status == 0, "\(exported.stderr)")

        for (batch, length) in [(2, 16), (2, 64), (1, 37)] {
            let model = try Checkpoint.loadModel(from: checkpoint, contextLength: length)
            var generator = SeededGenerator(seed: UInt64(batch * 1000 + length))
            let vocabulary = Int64(model.config.vocabularySize)
            let ids = (0..<batch * length).map { _ in Int64.random(in: 0..<vocabulary, using: &generator) }
            let reference = ids.map(Int32.init).withUnsafeBufferPointer { Array(model.logits(tokens: $0, batch: batch, time: length)) }
            let onnx = try ONNXRuntimeEnvironment.logits(model: onnxFile, ids: ids, batch: batch, length: length, in: folder)

            try #require(onnx.count == reference.count, "onnxruntime returned \(onnx.count) logits, expected \(reference.count)")
            let largestDifference = zip(onnx, reference).map { abs(Double($0) - Double($1)) }.max() ?? 0
            let largestReference = reference.map { abs(Double($0)) }.max() ?? 0
            let relative = largestDifference / largestReference
            print("ONNX vs trainer at \(batch)×\(length): max|Δ| \(largestDifference), max|ref| \(largestReference), relative \(relative)")
            #expect(relative < Self.tolerance, "max|Δ|/max|ref| = \(relative) at \(batch)×\(length)")
        }
    }

    /// A checkpoint trained a few steps by `cohort train`, so the weights are no longer their
    /// near-uniform initialisation.
    private func trainCheckpoint(in folder: URL) throws -> URL {
        let settings = folder.appendingPathComponent("settings.json")
        try Data(Self.settings.utf8).write(to: settings)
        let text = folder.appendingPathComponent("text.txt")
        try Data(String(repeating: "Now is the winter of our discontent made glorious summer by this sun of York. ", count: 30).utf8)
            .write(to: text)
        let output = folder.appendingPathComponent("run")
        let trained = try CommandRunner.run(["train", "--config", settings.path, "--data", text.path, "--output", output.path,
                                             "--threads", "1"])
        try #require(trained.status == 0, "\(trained.stderr)")
        return output
    }
}
