import Foundation
import SwiftProtobuf
import Trainer

/// Writes a trained model as an ONNX file that onnxruntime and other ONNX tools run (docs/onnx.md).
public enum ONNXExport {
    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
    }

    /// What was written, for the command's summary.
    public struct Summary: Sendable, Equatable {
        public let parameterCount: Int
        public let nodeCount: Int
        public let byteCount: Int
    }

    /// An ONNX model is one protobuf message, and protobuf cannot encode a message of 2 GiB or
    /// more. Larger models would need ONNX's external-data files, which Cohort does not write.
    public static let maximumFileBytes = Int(Int32.max)

    /// The file size to expect: the float32 parameters plus a generous allowance for the graph
    /// (a few hundred nodes, names and framing), known before anything is allocated.
    public static func estimatedFileBytes(config: ModelConfig) -> Int {
        4 * (config.parameterCount + config.headCount) + (1 << 20)
    }

    /// Builds the graph of `model` and writes it to `url` through a temporary file in the same
    /// folder, so that a failure never leaves a partial file behind.
    @discardableResult
    public static func write(_ model: TransformerModel<Float>, to url: URL) throws -> Summary {
        try checkFits(model.config)
        try checkDestination(url)
        let proto = BloomONNXGraph.model(
            config: model.config, parameters: UnsafeBufferPointer(start: model.parameters.base, count: model.parameters.count))
        let data: Data = try proto.serializedBytes()
        try AtomicFile.write(data, to: url)
        return Summary(parameterCount: model.config.parameterCount, nodeCount: proto.graph.node.count, byteCount: data.count)
    }

    /// Refuses a destination whose folder is missing, before any work: the error of the
    /// temporary file's creation would name a path the user never typed.
    public static func checkDestination(_ url: URL) throws {
        let folder = url.deletingLastPathComponent()
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw Error(description: "\(url.path): the folder \(folder.path) does not exist")
        }
    }

    /// Refuses a model the graph cannot express (absolute positions: the graph builds ALiBi's
    /// bias) or whose file would reach protobuf's limit; needs only the config, so a caller can
    /// refuse before loading the parameters.
    public static func checkFits(_ config: ModelConfig) throws {
        guard config.positionEncoding == .alibi else {
            throw Error(description: """
                the model uses \(config.positionEncoding.rawValue) positions; the ONNX export writes ALiBi models only \
                (the experiments' controls are not exported)
                """)
        }
        guard estimatedFileBytes(config: config) >= maximumFileBytes else { return }
        let gibibytes = String(format: "%.2f", Double(estimatedFileBytes(config: config)) / Double(1 << 30))
        throw Error(description: """
            the model has \(config.parameterCount) parameters (\(gibibytes) GiB as float32); an ONNX file is one protobuf \
            message, which cannot reach 2 GiB, and Cohort does not write ONNX external-data files
            """)
    }
}
