import ArgumentParser
import Foundation
import ONNXExport
import Trainer

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint's model as an ONNX file, to run with onnxruntime (docs/onnx.md).")

    @Option(help: "Checkpoint folder (ours, or a BLOOM folder from transformers with a byte vocabulary).")
    var checkpoint: String
    @Option(help: "ONNX file to write; it appears only once complete.") var onnx: String
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let folder = URL(fileURLWithPath: checkpoint), destination = URL(fileURLWithPath: onnx)
        // Both checks come before loading, so what cannot be exported is refused at once.
        let config = try Checkpoint.loadConfig(from: folder)
        try ONNXExport.checkFits(config)
        try ONNXExport.checkDestination(destination)
        let model = try Checkpoint.loadModel(from: folder)
        let summary = try ONNXExport.write(model, to: destination)
        if json {
            printJSON(["onnx": onnx, "checkpoint": checkpoint, "parameters": summary.parameterCount,
                       "nodes": summary.nodeCount, "bytes": summary.byteCount, "opset": Int(BloomONNXGraph.opsetVersion),
                       "context_length": config.contextLength])
        } else {
            print(String(format: "wrote %@: %d parameters, %d layers, %d nodes, opset %d, %.1f MB (trained at context %d, runs at any length)",
                         onnx, summary.parameterCount, config.layerCount, summary.nodeCount, Int(BloomONNXGraph.opsetVersion),
                         Double(summary.byteCount) / 1e6, config.contextLength))
        }
    }
}
