import Foundation
import Testing
@testable import Trainer

/// Our forward and backward against transformers' BloomForCausalLM on committed fixtures
/// (written by scripts/reference/make_bloom_fixtures.py).
@Suite struct BloomReferenceTests {
    struct Reference {
        let inputIDs: [[Int32]]
        let logits: [Float]
        let loss: Double
        let slopes: [String: [Double]]

        init(folder: URL) throws {
            let data = try Data(contentsOf: folder.appendingPathComponent("reference.json"))
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            inputIDs = try #require(object["input_ids"] as? [[Int]]).map { $0.map(Int32.init) }
            logits = try #require(object["logits"] as? [[[Double]]]).flatMap { $0.flatMap { $0.map(Float.init) } }
            loss = try #require(object["loss"] as? Double)
            var slopes: [String: [Double]] = [:]
            for (key, value) in object where key.hasPrefix("alibi_slopes") { slopes[key] = value as? [Double] }
            self.slopes = slopes
        }

        var tokens: [Int32] { inputIDs.flatMap { $0 } }
        /// transformers' causal-LM labels: each position predicts the next; the last is not scored.
        var targets: [Int32] { inputIDs.flatMap { Array($0.dropFirst()) + [-1] } }

        /// `model`'s worst logit error relative to these logits (at least 1 in the denominator),
        /// and its loss on these sequences; also checks the logit count.
        func worstLogitErrorAndLoss(of model: TransformerModel<Float>) -> (worst: Float, loss: Double) {
            let batch = inputIDs.count, time = inputIDs[0].count
            let ours = tokens.withUnsafeBufferPointer { Array(model.logits(tokens: $0, batch: batch, time: time)) }
            #expect(ours.count == logits.count)
            let worst = zip(ours, logits).reduce(Float(0)) { max($0, abs($1.0 - $1.1) / max(1, abs($1.1))) }
            let loss = tokens.withUnsafeBufferPointer { tokens in
                targets.withUnsafeBufferPointer { model.forward(tokens: tokens, targets: $0, batch: batch, time: time) }
            }
            return (worst, loss)
        }
    }

    static func fixture(_ name: String) throws -> URL {
        try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent(name)
    }

    @Test(arguments: ["bloom-tiny", "bloom-tiny-f16", "bloom-tiny-bf16", "bloom-tiny-untied-head"])
    func logitsAndLossMatchTransformers(folderName: String) throws {
        let folder = try Self.fixture(folderName)
        let reference = try Reference(folder: folder)
        let model = try Checkpoint.loadModel(from: folder)
        let (worst, loss) = reference.worstLogitErrorAndLoss(of: model)
        #expect(worst < 1e-4, "worst relative logit error \(worst)")
        #expect(abs(loss - reference.loss) / reference.loss < 1e-4, "loss \(loss) vs \(reference.loss)")
    }

    @Test func gradientsMatchAutograd() throws {
        let folder = try Self.fixture("bloom-tiny")
        let reference = try Reference(folder: folder)
        let model = try Checkpoint.loadModel(from: folder)
        let expected = try SafeTensors.File(contentsOf: folder.appendingPathComponent("grads.safetensors"))
        let batch = reference.inputIDs.count, time = reference.inputIDs[0].count
        model.zeroGradients()
        reference.tokens.withUnsafeBufferPointer { tokens in
            reference.targets.withUnsafeBufferPointer { _ = model.forward(tokens: tokens, targets: $0, batch: batch, time: time) }
        }
        model.backward()
        for tensor in model.layout.tensors {
            let want = try expected.readArray(tensor.name)
            let scale = max(want.map(abs).max() ?? 0, 1e-6)
            var worst: Float = 0
            for index in 0..<tensor.count { worst = max(worst, abs(model.gradients[tensor.offset + index] - want[index])) }
            #expect(worst / scale < 1e-3, "\(tensor.name): worst gradient error \(worst) of scale \(scale)")
        }
    }

    @Test func alibiSlopesMatchTransformers() throws {
        let reference = try Reference(folder: try Self.fixture("bloom-tiny"))
        let cases = [("alibi_slopes", 3), ("alibi_slopes_6", 6), ("alibi_slopes_8", 8), ("alibi_slopes_12", 12)]
        for (key, heads) in cases {
            let want = try #require(reference.slopes[key])
            let ours = AlibiSlopes.slopes(headCount: heads)
            #expect(ours.count == want.count)
            for (a, b) in zip(ours, want) { #expect(abs(a - b) < 1e-7, "\(key)") }
        }
    }
}
