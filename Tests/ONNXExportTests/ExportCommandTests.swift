import CohortProcessSupport
import Foundation
import Testing
import Trainer

/// `cohort export` refuses what it cannot export with one line naming the problem, and never
/// leaves a partial or clobbered ONNX file behind.
struct ExportCommandTests {
    static let config = ModelConfig(hiddenSize: 16, layerCount: 1, headCount: 2, contextLength: 8)

    private func savedCheckpoint(config: ModelConfig = config, in folder: URL) throws -> URL {
        let model = TransformerModel<Float>(config: config)
        model.initializeParameters(seed: 7)
        let checkpoint = folder.appendingPathComponent("checkpoint")
        try Checkpoint.save(model: model, optimizer: nil, to: checkpoint)
        return checkpoint
    }

    /// Runs `cohort export` and expects it to fail with exactly one line containing `expected`,
    /// leaving the previous content of the ONNX path as it was.
    private func expectRefusal(checkpoint: URL, containing expected: String, in folder: URL) throws {
        let onnxFile = folder.appendingPathComponent("model.onnx")
        try Data("earlier export".utf8).write(to: onnxFile)
        let result = try CommandRunner.run(["export", "--checkpoint", checkpoint.path, "--onnx", onnxFile.path])
        let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(result.status != 0)
        #expect(message.contains(expected), "\(message)")
        #expect(!message.contains("\n"), "more than one line: \(message)")
        #expect(try Data(contentsOf: onnxFile) == Data("earlier export".utf8))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    @Test func aValidCheckpointExportsWithASummaryLine() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = try savedCheckpoint(in: folder)
        let onnxFile = folder.appendingPathComponent("model.onnx")
        let result = try CommandRunner.run(["export", "--checkpoint", checkpoint.path, "--onnx", onnxFile.path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["parameters"] as? Int == Self.config.parameterCount)
        #expect(summary["opset"] as? Int == 17)
        let size = try FileManager.default.attributesOfItem(atPath: onnxFile.path)[.size] as? Int
        #expect(summary["bytes"] as? Int == size)
    }

    @Test func aMissingCheckpointIsRefused() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try expectRefusal(checkpoint: folder.appendingPathComponent("absent"), containing: "config.json: cannot be read", in: folder)
    }

    @Test func aMalformedModelFileIsRefused() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = try savedCheckpoint(in: folder)
        try Data("not a safetensors file".utf8).write(to: checkpoint.appendingPathComponent("model.safetensors"))
        try expectRefusal(checkpoint: checkpoint, containing: "model.safetensors", in: folder)
    }

    @Test func aMalformedConfigIsRefused() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = try savedCheckpoint(in: folder)
        try Data("{\"vocab_size\": 256".utf8).write(to: checkpoint.appendingPathComponent("config.json"))
        try expectRefusal(checkpoint: checkpoint, containing: "config.json: is not a JSON object", in: folder)
    }

    /// config.json from one model beside the tensors of another.
    @Test func aConfigThatDoesNotMatchTheTensorsIsRefused() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = try savedCheckpoint(in: folder)
        var wider = Self.config
        wider.hiddenSize = 32
        try BloomConfigFile.encode(wider).write(to: checkpoint.appendingPathComponent("config.json"))
        try expectRefusal(checkpoint: checkpoint, containing: "config.json implies [256, 32]", in: folder)
    }

    @Test func aDestinationInAMissingFolderIsRefused() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = try savedCheckpoint(in: folder)
        let destination = folder.appendingPathComponent("absent/model.onnx")
        let result = try CommandRunner.run(["export", "--checkpoint", checkpoint.path, "--onnx", destination.path])
        #expect(result.status != 0)
        #expect(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            == "Error: \(destination.path): the folder \(destination.deletingLastPathComponent().path) does not exist")
    }

    @Test(arguments: [PositionEncoding.sinusoidal, .learned])
    func aModelWithAbsolutePositionsIsRefused(_ encoding: PositionEncoding) throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var config = Self.config
        config.positionEncoding = encoding
        let checkpoint = try savedCheckpoint(config: config, in: folder)
        try expectRefusal(checkpoint: checkpoint, containing: "uses \(encoding.rawValue) positions", in: folder)
    }

    @Test func aModelBeyondTwoGibibytesIsRefusedBeforeLoading() throws {
        let folder = try CommandRunner.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = folder.appendingPathComponent("large")
        try FileManager.default.createDirectory(at: checkpoint, withIntermediateDirectories: true)
        let large = ModelConfig(hiddenSize: 4096, layerCount: 4, headCount: 32, contextLength: 128)
        try BloomConfigFile.encode(large).write(to: checkpoint.appendingPathComponent("config.json"))
        try expectRefusal(checkpoint: checkpoint, containing: "cannot reach 2 GiB", in: folder)
    }
}
